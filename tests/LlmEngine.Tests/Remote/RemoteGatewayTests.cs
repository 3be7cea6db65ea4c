using Akka.Streams.Dsl;
using LlmEngine.Actors.Engine;
using LlmEngine.Actors.Remote;
using LlmEngine.Contracts;
using LlmEngine.Kernels.Sampling;

namespace LlmEngine.Tests.Remote;

/// <summary>An actor in another ActorSystem, over Akka.Remote, submits requests to the engine's
/// gateway and receives their tokens as an Akka.Streams stream ref.</summary>
public sealed class RemoteGatewayTests(RemoteSystems systems) : IClassFixture<RemoteSystems>
{
    private const string Prompt = "Once upon a time";
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task RemoteCallerStreamsTheSameGreedyTokensAsTheInProcessEngine()
    {
        var (tokens, text) = await InProcess(new SamplingParameters { Temperature = 0, MaxTokens = 40 });

        var deltas = await systems.Gateway.GenerateAsync(new RemoteGenerate("story", Prompt, null, new RemoteSampling(MaxTokens: 40, Temperature: 0)), Timeout);
        var received = await deltas.RunWith(Sink.Seq<RemoteDelta>(), systems.Materializer).WaitAsync(Timeout);

        Assert.Equal(tokens, received.SelectMany(d => d.TokenIds).ToArray());
        Assert.Equal(text, string.Concat(received.Select(d => d.Text)));
        Assert.All(received, d => Assert.Equal("story", d.RequestId));
        Assert.NotNull(received[^1].FinishReason);
    }

    [Fact]
    public async Task RequestTheEngineRefusesIsRejectedNamingTheField()
    {
        var e = await Assert.ThrowsAsync<ArgumentException>(() =>
            systems.Gateway.GenerateAsync(new RemoteGenerate("bad", Prompt, null, new RemoteSampling(Temperature: -1)), Timeout));

        Assert.Equal("temperature", e.ParamName);
    }

    [Fact]
    public async Task CancellingTheRemoteStreamStopsItAndLeavesEveryBlockFree()
    {
        var deltas = await systems.Gateway.GenerateAsync(
            new RemoteGenerate("long", Prompt, null, new RemoteSampling(MaxTokens: 480, Temperature: 0, IgnoreEos: true)), Timeout);
        var firstThree = await deltas.Take(3).RunWith(Sink.Seq<RemoteDelta>(), systems.Materializer).WaitAsync(Timeout);

        var after = await WhenAllBlocksFree();
        Assert.Equal(3, firstThree.Count);
        Assert.Equal(after.BlocksTotal, after.BlocksFree);
        // Whether the request is cut short before its 480 tokens is a race: stories260K generates
        // them in about the time a cancellation takes to cross Akka.Remote. What must hold either
        // way: the stream stopped at 3 deltas, every block is free and the pool is consistent.
        Assert.Null(await systems.Engine.CheckBlockInvariantsAsync());
    }

    private async Task<EngineStatistics> WhenAllBlocksFree()
    {
        var stats = await systems.Engine.RefreshStatisticsAsync();
        for (int i = 0; i < 100 && stats.BlocksFree != stats.BlocksTotal; i++)
        {
            await Task.Delay(20);
            stats = await systems.Engine.RefreshStatisticsAsync();
        }
        Assert.Equal(stats.BlocksTotal, stats.BlocksFree);
        return stats;
    }

    private async Task<(int[] Tokens, string Text)> InProcess(SamplingParameters sampling)
    {
        var request = new GenerationRequest("local", systems.Engine.Tokenizer!.Encode(Prompt), sampling, Prompt);
        RequestOutput? last = null;
        await foreach (var output in systems.Engine.GenerateAsync(request)) last = output;
        return ([.. last!.Outputs![0].TokenIds], last.Outputs[0].Text);
    }
}
