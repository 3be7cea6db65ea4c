using LlmEngine.Actors.Cluster;
using LlmEngine.Hosting;
using LlmEngine.Tests.Cli;

namespace LlmEngine.Tests.Cluster;

/// <summary><c>serve --cluster-public-address</c>: the address a node is known by when the others
/// cannot reach the one it binds (NAT, a container's port mapping, a proxy).</summary>
public sealed class ClusterNodeOptionsTests
{
    [Fact]
    public void APublicAddressIsWhatTheNodeIsKnownByAndSeedsWith()
    {
        var node = new ClusterNodeOptions("0.0.0.0", 4053, Join: null, RoutingMode.KvAware, PublicAddress: "10.1.2.3:14053").Validate();
        var remoting = node.Remoting();
        Assert.Equal(("0.0.0.0", 4053), (remoting.HostName, remoting.Port));
        Assert.Equal(("10.1.2.3", 14053), (remoting.PublicHostName, remoting.PublicPort));
        Assert.Equal(["akka.tcp://llm-engine@10.1.2.3:14053"], node.SeedNodes);

        var joiner = node with { Join = "10.1.2.4:4053" };
        Assert.Equal(["akka.tcp://llm-engine@10.1.2.4:4053"], joiner.SeedNodes);
        var plain = new ClusterNodeOptions("10.1.2.5", 4053, Join: null, RoutingMode.KvAware).Validate();
        Assert.Null(plain.Remoting().PublicHostName);
        Assert.Equal(["akka.tcp://llm-engine@10.1.2.5:4053"], plain.SeedNodes);
    }

    [Theory]
    [InlineData("10.1.2.3")]
    [InlineData("10.1.2.3:0")]
    [InlineData(":4053")]
    [InlineData("host:port")]
    public void AnAddressThatIsNotHostAndPortIsRefused(string address)
    {
        var e = Assert.Throws<ArgumentException>(() => new ClusterNodeOptions("127.0.0.1", 4053, null, RoutingMode.KvAware, address).Validate());
        Assert.StartsWith($"--cluster-public-address must be HOST:PORT, got '{address}'", e.Message);
    }

    [Theory]
    [InlineData("error: --cluster-public-address needs --cluster-port", "--cluster-public-address", "127.0.0.1:14053")]
    [InlineData("error: --cluster-public-address must be HOST:PORT, got '14053'", "--cluster-port", "14054", "--cluster-public-address", "14053")]
    public async Task ServeRefusesAPublicAddressItCannotUseInOneLine(string message, params string[] args)
    {
        var result = await CliProcess.Run(["serve", "--port", "0", .. args]);
        Assert.Equal(1, result.ExitCode);
        Assert.Equal(message, result.Error.Trim());
    }
}
