using Akka.Actor;
using LlmEngine.Actors.Cluster;
using LlmEngine.Actors.Engine;
using LlmEngine.Host.Api;
using LlmEngine.Kernels.Sampling;
using LlmEngine.Hosting;
using LlmEngine.Tests.Remote;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace LlmEngine.Tests.Cluster;

/// <summary>One replica of a test cluster: a generic host with <c>AddLlmCluster</c> on stories260K,
/// its ActorSystem on a loopback port, joined to <c>join</c>'s port (or seeding).</summary>
public sealed class ClusterNode : IAsyncDisposable
{
    private readonly IHost _host;

    private ClusterNode(IHost host, int port)
    {
        _host = host;
        Port = port;
        FrontDoor = (ClusterEngine)host.Services.GetRequiredKeyedService<ILlmEngine>(LlmClusterServiceCollectionExtensions.FrontDoor);
        Engine = host.Services.GetRequiredService<InferenceEngine>();
        System = host.Services.GetRequiredService<ActorSystem>();
    }

    public int Port { get; }
    public ClusterEngine FrontDoor { get; }
    public InferenceEngine Engine { get; }
    public ActorSystem System { get; }
    public string Address => FrontDoor.Self;

    public static async Task<ClusterNode> Start(int? join, int maxNumSeqs = 256)
    {
        int port = LoopbackPort.Free();
        var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        var options = RemoteSystems.Stories260K();
        options.MaxNumSeqs = maxNumSeqs;
        options.ShutdownGraceSeconds = 0;
        builder.Services.AddLlmCluster(options, new ClusterNodeOptions("127.0.0.1", port, join is { } j ? $"127.0.0.1:{j}" : null, RoutingMode.KvAware));
        var host = builder.Build();
        await host.StartAsync();
        return new ClusterNode(host, port);
    }

    /// <summary>Starts <paramref name="count"/> nodes, the first seeding, and waits until every
    /// node routes to all of them.</summary>
    public static async Task<ClusterNode[]> StartCluster(int count, int maxNumSeqs = 256)
    {
        var nodes = new List<ClusterNode> { await Start(null, maxNumSeqs) };
        for (int i = 1; i < count; i++) nodes.Add(await Start(nodes[0].Port, maxNumSeqs));
        await Converged(nodes);
        return [.. nodes];
    }

    /// <summary>Waits until each node's directory lists exactly these nodes' replicas.</summary>
    public static async Task Converged(IReadOnlyList<ClusterNode> nodes)
    {
        var expected = nodes.Select(n => n.Address).Order().ToArray();
        await Eventually(() => nodes.All(n => n.FrontDoor.Directory.Replicas().Select(r => r.Node).Order().SequenceEqual(expected)),
            "every node routes to every replica");
    }

    public static Task Eventually(Func<bool> condition, string what, double seconds = 60) =>
        Eventually(() => Task.FromResult(condition()), what, seconds);

    /// <summary>As above for a condition that awaits (an HTTP call): blocking on one would hold a thread of a
    /// two-core machine's small pool that the test's streams need to read their tokens.</summary>
    public static async Task Eventually(Func<Task<bool>> condition, string what, double seconds = 60)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"not within {seconds} s: {what}");
            await Task.Delay(50);
        }
    }

    /// <summary>The node's process dies as far as the cluster can tell: its ActorSystem (engine
    /// actors, gateway, streams) terminates at once, without the engine's drain.</summary>
    public Task Crash() => System.Terminate();

    /// <summary>The greedy completion of <paramref name="prompt"/> through this node's front door.</summary>
    public Task<int[]> Complete(string id, IReadOnlyList<int> prompt, int maxTokens) => Greedy(FrontDoor, id, prompt, maxTokens);

    /// <summary>The greedy tokens <paramref name="engine"/> gives (EOS ignored, so exactly maxTokens).</summary>
    public static async Task<int[]> Greedy(ILlmEngine engine, string id, IReadOnlyList<int> prompt, int maxTokens)
    {
        var request = new GenerationRequest(id, prompt, new SamplingParameters { Temperature = 0, MaxTokens = maxTokens, IgnoreEos = true });
        RequestOutput? last = null;
        await foreach (var output in engine.GenerateAsync(request)) last = output;
        Assert.True(last!.Finished);
        return [.. last.Outputs![0].TokenIds];
    }

    public static async Task AllBlocksFree(InferenceEngine engine)
    {
        var stats = await engine.RefreshStatisticsAsync();
        for (int i = 0; i < 200 && stats.BlocksFree != stats.BlocksTotal; i++)
        {
            await Task.Delay(25);
            stats = await engine.RefreshStatisticsAsync();
        }
        Assert.Equal(stats.BlocksTotal, stats.BlocksFree);
        Assert.Null(await engine.CheckBlockInvariantsAsync());
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await _host.StopAsync(TimeSpan.FromSeconds(10));
        }
        catch (Exception) when (System.WhenTerminated.IsCompleted)
        {
            // A crashed node's engine cannot drain on its dead ActorSystem.
        }
        await Engine.DisposeAsync();
        _host.Dispose();
    }
}
