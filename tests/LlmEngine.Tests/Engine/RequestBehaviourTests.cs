using LlmEngine.Kernels.Sampling;
using LlmEngine.Tests.Models;

namespace LlmEngine.Tests.Engine;

/// <summary>Per-request behaviour through the whole engine: seeds, stop strings, stop tokens,
/// min_tokens, cancellation.</summary>
public class RequestBehaviourTests
{
    private static readonly int[] Prompt = Stories260KReferenceTests.Rows[0].PromptIds;
    private static readonly int[] Greedy = Stories260KReferenceTests.Rows[0].Generated;

    [Fact]
    public async Task SeededSampleIsTheSameAloneAndInABusyBatch()
    {
        await using var engine = EngineRuns.Stories();
        var sampling = new SamplingParameters { Temperature = 0.9, TopP = 0.95, Seed = 42, MaxTokens = 40, IgnoreEos = true };
        var alone = await EngineRuns.Final(engine, "alone", Prompt, sampling);
        var others = Enumerable.Range(0, 6).Select(i => EngineRuns.Final(engine, $"other{i}", Stories260KReferenceTests.Rows[i + 1].PromptIds,
            new SamplingParameters { Temperature = 1.0, MaxTokens = 30 + i, IgnoreEos = true })).ToList();
        var busy = await EngineRuns.Final(engine, "busy", Prompt, sampling);
        await Task.WhenAll(others);
        Assert.Equal(alone.Outputs![0].TokenIds, busy.Outputs![0].TokenIds);
        Assert.NotEqual(Greedy.Take(40), alone.Outputs[0].TokenIds);
    }

    [Fact]
    public async Task StopStringEndsTheTextBeforeIt()
    {
        await using var engine = EngineRuns.Stories();
        var full = await EngineRuns.Final(engine, "full", Prompt, new SamplingParameters { Temperature = 0, MaxTokens = 60 });
        string text = full.Outputs![0].Text;
        string stop = "Lily";
        Assert.Contains(stop, text);
        var stopped = await EngineRuns.Final(engine, "stopped", Prompt, new SamplingParameters { Temperature = 0, MaxTokens = 60, Stop = [stop] });
        Assert.Equal(text[..text.IndexOf(stop, StringComparison.Ordinal)], stopped.Outputs![0].Text);
        Assert.Equal("stop", stopped.Outputs[0].FinishReason);
        await EngineRuns.AssertAllBlocksFree(engine);
    }

    [Fact]
    public async Task StopTokenEndsTheCompletionUnlessMinTokensHoldsItBack()
    {
        await using var engine = EngineRuns.Stories();
        int first = Greedy[0];
        var stopped = await EngineRuns.Final(engine, "a", Prompt, new SamplingParameters { Temperature = 0, MaxTokens = 20, StopTokenIds = [first] });
        Assert.Equal([first], stopped.Outputs![0].TokenIds);
        Assert.Equal("stop", stopped.Outputs[0].FinishReason);
        var held = await EngineRuns.Final(engine, "b", Prompt, new SamplingParameters { Temperature = 0, MaxTokens = 20, StopTokenIds = [first], MinTokens = 3 });
        Assert.True(held.Outputs![0].TokenIds.Count >= 3);
        Assert.DoesNotContain(first, held.Outputs[0].TokenIds.Take(3));
    }

    [Fact]
    public async Task MaxTokensEndsWithLength()
    {
        await using var engine = EngineRuns.Stories();
        var output = await EngineRuns.Final(engine, "a", Prompt, new SamplingParameters { Temperature = 0, MaxTokens = 7 });
        Assert.Equal(Greedy.Take(7), output.Outputs![0].TokenIds);
        Assert.Equal("length", output.Outputs[0].FinishReason);
    }

    [Fact]
    public async Task CancelledRequestFreesItsBlocks()
    {
        await using var engine = EngineRuns.Stories();
        using var cancel = new CancellationTokenSource();
        int seen = 0;
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var _ in engine.GenerateAsync(new("long", Prompt, new SamplingParameters { Temperature = 0, MaxTokens = 400, IgnoreEos = true }), cancel.Token))
                if (++seen == 5) cancel.Cancel();
        });
        await EngineRuns.AssertAllBlocksFree(engine);
    }

    [Fact]
    public async Task PromptLongerThanTheContextIsRejectedBeforeQueueing()
    {
        await using var engine = EngineRuns.Stories();
        var error = await Assert.ThrowsAsync<ArgumentException>(() => EngineRuns.Final(engine, "x", Prompt, new SamplingParameters { MaxTokens = 600 }));
        Assert.Contains("maximum context length is 512", error.Message);
    }
}
