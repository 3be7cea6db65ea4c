using LlmEngine.Actors.Engine;
using LlmEngine.Kernels.Sampling;
using LlmEngine.Tests.Loading;
using LlmEngine.Tests.Models;

namespace LlmEngine.Tests.Engine;

/// <summary>
/// Prompt logprobs score each prompt token by the logits of the position before it, so a prompt
/// that is a greedy completion's own text scores its generated tokens as greedy did; and so they do
/// when the prompt is computed in chunks, and again when the same prompt's blocks are cached.
/// </summary>
public sealed class PromptLogprobsTests
{
    private static readonly int[] Prompt = Stories260KReferenceTests.Rows[1].PromptIds;

    private static InferenceEngine Engine(int maxBatchedTokens) => InferenceEngine.Start(new EngineOptions
    {
        Model = SharedModels.Stories260K, NumBlocks = 128, BlockSize = 4, MaxNumBatchedTokens = maxBatchedTokens, EnablePrefixCaching = true,
    });

    [Theory]
    [InlineData(2048)]
    [InlineData(5)]
    public async Task APromptScoresItsGreedyContinuationAsGreedySampledIt(int maxBatchedTokens)
    {
        await using var engine = Engine(maxBatchedTokens);
        var greedy = (await EngineRuns.Final(engine, "g", Prompt, new SamplingParameters { Temperature = 0, MaxTokens = 10, IgnoreEos = true, Logprobs = 2 })).Outputs![0];
        int[] both = [.. Prompt, .. greedy.TokenIds];

        for (int round = 0; round < 2; round++)
        {
            var scored = (await EngineRuns.Final(engine, $"p{round}", both, new SamplingParameters { Temperature = 0, MaxTokens = 1, PromptLogprobs = 2 })).PromptLogprobs!;

            Assert.Equal(both.Length, scored.Count);
            Assert.Null(scored[0]);
            Assert.All(scored.Skip(1), s => Assert.NotNull(s));
            for (int t = 0; t < greedy.TokenIds.Count; t++)
            {
                var s = scored[Prompt.Length + t]!;
                Assert.Equal((greedy.TokenIds[t], 1), (s.Token.TokenId, s.Rank));
                Assert.Equal(greedy.Logprobs[t].Logprob, s.Token.Logprob, 4);
                Assert.Equal(greedy.Logprobs[t].Top.Select(a => a.TokenId), s.Token.Top.Select(a => a.TokenId));
            }
        }
        await EngineRuns.AssertAllBlocksFree(engine);
    }
}
