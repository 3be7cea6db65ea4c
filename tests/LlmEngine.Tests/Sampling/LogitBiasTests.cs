using LlmEngine.Kernels.Sampling;
using LlmEngine.Scheduling;
using static TorchSharp.torch;

namespace LlmEngine.Tests.Sampling;

/// <summary>OpenAI's logit_bias in the sampler: added to the logits before any sampling mode
/// chooses, so it moves greedy picks, random draws and the reported log-probabilities alike.</summary>
public sealed class LogitBiasTests
{
    private static readonly float[] Logits = [1.0f, 3.0f, 2.0f, 3.0f, -1.0f, 0.5f];

    private static SampledToken Sample(SamplingParameters p, double uniform = 0.5, int top = 0)
    {
        using var l = tensor(Logits).unsqueeze(0);
        return Sampler.Sample(l, [new SamplingRow(p, [], [], uniform, [], top)])[0];
    }

    private static Dictionary<int, double> Bias(params (int Id, double Value)[] entries) => entries.ToDictionary(e => e.Id, e => e.Value);

    [Fact]
    public void APositiveBiasMakesGreedyPickTheWorstToken() =>
        Assert.Equal(4, Sample(new SamplingParameters { Temperature = 0, LogitBias = Bias((4, 100)) }).TokenId);

    [Fact]
    public void ANegativeBiasOnBothMaximaMakesGreedyPickTheNextBest() =>
        Assert.Equal(2, Sample(new SamplingParameters { Temperature = 0, LogitBias = Bias((1, -100), (3, -100)) }).TokenId);

    [Fact]
    public void MinusOneHundredKeepsRandomSamplingOffTheToken()
    {
        var p = new SamplingParameters { Temperature = 1, LogitBias = Bias((1, -100), (3, -100)) };
        for (double u = 0; u < 1; u += 0.01)
            Assert.DoesNotContain(Sample(p, u).TokenId, new[] { 1, 3 });
    }

    [Fact]
    public void TheReportedLogprobIsThatOfTheBiasedLogits()
    {
        var biased = Logits.ToArray();
        biased[5] += 2.5f;
        double logZ = Math.Log(biased.Sum(x => Math.Exp(x)));
        var token = Sample(new SamplingParameters { Temperature = 0, LogitBias = Bias((5, 2.5)) }, top: 1);
        Assert.Equal(1, token.TokenId);
        Assert.Equal(3.0 - logZ, token.Logprob, 5);
    }

    [Fact]
    public void ABiasForAnIdPastTheLogitsIsIgnored() =>
        Assert.Equal(1, Sample(new SamplingParameters { Temperature = 0, LogitBias = Bias((60, 100)) }).TokenId);

    [Theory]
    [InlineData(-1, 1.0)]
    [InlineData(2, 100.5)]
    [InlineData(2, -101.0)]
    [InlineData(2, double.NaN)]
    public void ANegativeIdOrAValueOutsideTheRangeIsRefused(int id, double value)
    {
        var p = new SamplingParameters { LogitBias = Bias((id, value)) };
        Assert.Equal("logit_bias", Assert.Throws<ArgumentException>(p.Validate).ParamName);
    }
}
