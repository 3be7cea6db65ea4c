using System.Text;
using Akka.Actor;
using LlmEngine.Actors.Engine;
using LlmEngine.Contracts;
using LlmEngine.Kernels.Sampling;
using LlmEngine.Tests.Chat;
using LlmEngine.Tests.Cli;

namespace LlmEngine.Tests.Remote;

/// <summary>The remote protocol as a caller that knows only <c>LlmEngine.Contracts</c> sees it:
/// the sample caller (samples/RemoteCaller, no engine or TorchSharp in its dependencies) runs as
/// its own process against the gateway, and the messages travel as MessagePack, not as type-named JSON.</summary>
public sealed class ContractsCallerTests(RemoteSystems systems) : IClassFixture<RemoteSystems>
{
    [Fact]
    public async Task TheSampleCallerGetsTheInProcessGreedyTokens()
    {
        var request = new GenerationRequest("local", systems.Engine.Tokenizer!.Encode("Lily"), new SamplingParameters { Temperature = 0, MaxTokens = 24 }, "Lily");
        RequestOutput? local = null;
        await foreach (var o in systems.Engine.GenerateAsync(request)) local = o;

        var (exitCode, output, error) = await CliProcess.Dotnet(SamplePath(), RemoteSystems.GatewayPath(systems.Server), "Lily", "24");

        Assert.True(exitCode == 0, error);
        Assert.Equal(string.Join(' ', local!.Outputs![0].TokenIds), output.Trim());
    }

    [Fact]
    public void EveryContractTravelsAsMessagePackWithoutTypeNames()
    {
        var serialization = systems.Caller.Serialization;
        object[] messages =
        [
            new RemoteGenerate("r", "Once upon a time", [1, 2], new RemoteSampling(MaxTokens: 7, Temperature: 0, Stop: ["."])),
            new RemoteDelta("r", 1, [5, 6], "ab", "stop"),
            new RemoteGenerateRejected("r", "temperature", "must not be negative"),
        ];
        foreach (var message in messages)
        {
            var serializer = Assert.IsType<ContractsSerializer>(serialization.FindSerializerFor(message));
            var bytes = serializer.ToBinary(message);
            var back = serialization.Deserialize(bytes, serializer.Identifier, serializer.Manifest(message));

            Assert.Equal(Describe(message), Describe(back));
            Assert.DoesNotContain(message.GetType().Name, Encoding.UTF8.GetString(bytes));
        }
    }

    // Records compare arrays by reference; their JSON compares by value.
    private static string Describe(object message) => System.Text.Json.JsonSerializer.Serialize(message, message.GetType());

    // Built with the tests (a project reference that is not referenced): same configuration.
    private static string SamplePath() => TestFiles.BuildOutput("samples/RemoteCaller", "RemoteCaller.dll");
}
