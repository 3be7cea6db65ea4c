using LlmEngine.Kernels.Sampling;
using LlmEngine.Tests.Models;

namespace LlmEngine.Tests.Engine;

/// <summary>The engine counts the tokens each step computes in vLLM's iteration_tokens_total buckets.</summary>
public sealed class IterationTokensTests
{
    [Fact]
    public async Task EveryStepsTokensAreCountedOnceInItsBucket()
    {
        var prompt = Stories260KReferenceTests.Rows[0].PromptIds;
        await using var engine = EngineRuns.Stories(prefixCaching: false);
        await EngineRuns.Final(engine, "a", prompt, new SamplingParameters { Temperature = 0, MaxTokens = 5, IgnoreEos = true });

        var stats = await engine.RefreshStatisticsAsync();
        var tokens = stats.IterationTokens!;

        // The prompt in one step, then four steps of one token each.
        Assert.Equal((prompt.Length + 4L, stats.NumSteps, 4L), (tokens.Sum, tokens.Counts.Sum(), tokens.Counts[0]));
    }
}
