using LlmEngine.Kernels.Sampling;
using LlmEngine.Scheduling;
using TorchSharp;
using static TorchSharp.torch;

namespace LlmEngine.Tests.Sampling;

public class SamplerTests
{
    private static readonly float[] Logits = [1.0f, 3.0f, 2.0f, 3.0f, -1.0f, 0.5f];

    private static SampledToken SampleOne(SamplingParameters p, double uniform, int[]? output = null, int[]? banned = null, int top = 0, float[]? logits = null)
    {
        using var l = tensor(logits ?? Logits).unsqueeze(0);
        return Sampler.Sample(l, [new SamplingRow(p, [], output ?? [], uniform, banned ?? [], top)])[0];
    }

    [Fact]
    public void GreedyPicksTheLowestIdAmongEqualMaxima() =>
        Assert.Equal(1, SampleOne(new SamplingParameters { Temperature = 0 }, 0.5).TokenId);

    [Fact]
    public void TopKOneIsGreedyWhateverTheUniform() =>
        Assert.Equal(1, SampleOne(new SamplingParameters { TopK = 1 }, 0.999).TokenId);

    [Fact]
    public void TopKTwoNeverLeavesTheTwoBestTokens()
    {
        for (double u = 0; u < 1; u += 0.01)
            Assert.Contains(SampleOne(new SamplingParameters { TopK = 2 }, u).TokenId, new[] { 1, 3 });
    }

    [Fact]
    public void TopPKeepsTheSmallestPrefixReachingP()
    {
        // Sorted probabilities: ids 1 and 3 hold ~0.58 together, id 2 another ~0.21.
        for (double u = 0; u < 1; u += 0.01)
            Assert.Contains(SampleOne(new SamplingParameters { TopP = 0.5 }, u).TokenId, new[] { 1, 3 });
    }

    [Fact]
    public void MinPDropsTokensFarBelowTheBest()
    {
        for (double u = 0; u < 1; u += 0.01)
            Assert.Contains(SampleOne(new SamplingParameters { MinP = 0.3 }, u).TokenId, new[] { 1, 2, 3 });
    }

    [Fact]
    public void InverseCdfFollowsTheUniform()
    {
        var p = new SamplingParameters { Temperature = 1 };
        Assert.Equal(1, SampleOne(p, 0.0).TokenId);
        Assert.Equal(4, SampleOne(p, 0.99999).TokenId);
    }

    [Fact]
    public void BannedTokensAreNeverSampled()
    {
        Assert.Equal(3, SampleOne(new SamplingParameters { Temperature = 0 }, 0.5, banned: [1]).TokenId);
        for (double u = 0; u < 1; u += 0.05)
            Assert.NotEqual(1, SampleOne(new SamplingParameters(), u, banned: [1]).TokenId);
    }

    [Fact]
    public void RepetitionPenaltyDividesPositiveAndMultipliesNegativeLogits()
    {
        var token = SampleOne(new SamplingParameters { Temperature = 0, RepetitionPenalty = 2.0 }, 0.5, output: [1, 3], top: 6);
        Assert.Equal(2, token.TokenId);
        Assert.Equal(2.0f, token.Logit);
        // Without the penalty id 1 (-1) beats id 0 (-1.5); multiplied by 2 it drops to -2.
        var penalisedNegative = SampleOne(new SamplingParameters { Temperature = 0, RepetitionPenalty = 2.0 }, 0.5, output: [1], logits: [-1.5f, -1f]);
        Assert.Equal(0, penalisedNegative.TokenId);
    }

    [Fact]
    public void PresenceAndFrequencyPenaltiesSubtractPerOccurrence()
    {
        var token = SampleOne(new SamplingParameters { Temperature = 0, PresencePenalty = 0.5, FrequencyPenalty = 0.5 }, 0.5, output: [1, 1, 3]);
        // id 1: 3 - 0.5 - 1.0 = 1.5; id 3: 3 - 0.5 - 0.5 = 2.0; id 2 stays 2.0 and wins the tie by lower id.
        Assert.Equal(2, token.TokenId);
    }

    [Fact]
    public void LogprobsAreLogSoftmaxOfTheProcessedLogits()
    {
        var token = SampleOne(new SamplingParameters { Temperature = 0 }, 0.5, top: 3);
        double logZ = Math.Log(Logits.Sum(x => Math.Exp(x)));
        Assert.Equal(3 - logZ, token.Logprob, 4);
        Assert.Equal([1, 3, 2], token.Top.Select(t => t.TokenId).Order().Select(x => x).ToArray().OrderBy(x => x == 2).ThenBy(x => x).ToArray());
        Assert.Equal(2 - logZ, token.Top.Single(t => t.TokenId == 2).Logprob, 4);
    }

    [Fact]
    public void EachRowUsesOnlyItsOwnUniform()
    {
        using var temporaries = torch.NewDisposeScope();
        var p = new SamplingParameters { Temperature = 1.5, TopP = 0.9 };
        var alone = SampleOne(p, 0.37).TokenId;
        using var batch = tensor(Logits.Concat(Logits).Concat(Logits).ToArray()).view(3, -1);
        var rows = new[] { new SamplingRow(new SamplingParameters { Temperature = 0 }, [], [], 0.9, [], 0), new SamplingRow(p, [], [], 0.37, [], 0), new SamplingRow(p, [], [], 0.01, [], 0) };
        Assert.Equal(alone, Sampler.Sample(batch, rows)[1].TokenId);
    }

    [Theory]
    [InlineData("temperature")]
    [InlineData("top_p")]
    [InlineData("top_k")]
    [InlineData("min_p")]
    [InlineData("max_tokens")]
    [InlineData("n")]
    [InlineData("repetition_penalty")]
    [InlineData("logprobs")]
    public void InvalidValuesNameTheirField(string field)
    {
        var p = field switch
        {
            "temperature" => new SamplingParameters { Temperature = -1 },
            "top_p" => new SamplingParameters { TopP = 0 },
            "top_k" => new SamplingParameters { TopK = -2 },
            "min_p" => new SamplingParameters { MinP = 1.5 },
            "max_tokens" => new SamplingParameters { MaxTokens = 0 },
            "n" => new SamplingParameters { N = 0 },
            "repetition_penalty" => new SamplingParameters { RepetitionPenalty = 0 },
            _ => new SamplingParameters { Logprobs = 21 },
        };
        Assert.Equal(field, Assert.Throws<ArgumentException>(p.Validate).ParamName);
    }
}
