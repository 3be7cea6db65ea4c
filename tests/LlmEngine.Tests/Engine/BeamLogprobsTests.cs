using LlmEngine.Kernels.Sampling;
using LlmEngine.Tests.Models;

namespace LlmEngine.Tests.Engine;

/// <summary>Beam search returns logprobs as sampling does: one entry per output token with the
/// token's log-probability and the request's top alternatives, which add up to the beam's
/// cumulative log-probability and, for one beam, equal greedy's.</summary>
public sealed class BeamLogprobsTests
{
    private static readonly int[] Prompt = Stories260KReferenceTests.Rows[1].PromptIds;

    [Fact]
    public async Task OneBeamsLogprobsEqualGreedysTokenForToken()
    {
        await using var engine = EngineRuns.Stories();
        var greedy = (await EngineRuns.Final(engine, "g", Prompt, new SamplingParameters { Temperature = 0, MaxTokens = 12, IgnoreEos = true, Logprobs = 3 })).Outputs![0];
        var beam = (await EngineRuns.Final(engine, "b", Prompt, new SamplingParameters { UseBeamSearch = true, N = 1, Temperature = 0, MaxTokens = 12, IgnoreEos = true, Logprobs = 3 })).Outputs![0];

        Assert.Equal(greedy.TokenIds, beam.TokenIds);
        Assert.Equal(greedy.Logprobs.Count, beam.Logprobs.Count);
        for (int t = 0; t < greedy.Logprobs.Count; t++)
        {
            Assert.Equal(greedy.Logprobs[t].Logprob, beam.Logprobs[t].Logprob, 4);
            Assert.Equal(greedy.Logprobs[t].Top.Select(a => a.TokenId), beam.Logprobs[t].Top.Select(a => a.TokenId));
        }
        await EngineRuns.AssertAllBlocksFree(engine);
    }

    [Fact]
    public async Task EveryBeamsLogprobsAreItsTokensAndSumToItsCumulativeLogprob()
    {
        await using var engine = EngineRuns.Stories();
        var outputs = (await EngineRuns.Final(engine, "b", Prompt, new SamplingParameters { UseBeamSearch = true, N = 3, Temperature = 0, MaxTokens = 16, Logprobs = 2 })).Outputs!;

        Assert.Equal(3, outputs.Count);
        foreach (var o in outputs)
        {
            Assert.Equal(o.TokenIds, o.Logprobs.Select(s => s.TokenId));
            Assert.Equal(o.CumulativeLogprob, o.Logprobs.Sum(s => (double)s.Logprob), 3);
            foreach (var s in o.Logprobs)
            {
                Assert.Equal(2, s.Top.Length);
                Assert.True(s.Top[0].Logprob >= s.Top[1].Logprob && s.Top[0].Logprob >= s.Logprob - 1e-5);
            }
        }
        await EngineRuns.AssertAllBlocksFree(engine);
    }
}
