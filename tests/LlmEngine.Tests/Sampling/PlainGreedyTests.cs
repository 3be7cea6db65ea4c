using LlmEngine.Kernels.Runtime;
using LlmEngine.Kernels.Sampling;
using TorchSharp;
using static TorchSharp.torch;

namespace LlmEngine.Tests.Sampling;

/// <summary>Greedy rows with nothing to apply are sampled on the CPU without libtorch: the same
/// token, logit and log-probability as the general path (which a request for top alternatives takes).</summary>
public class PlainGreedyTests
{
    private static readonly SamplingParameters Greedy = new() { Temperature = 0 };

    private static SamplingRow Row(int top = 0) => new(Greedy, [], [], 0.5, [], top);

    public static TheoryData<int, int> Shapes() => new() { { 1, 32000 }, { 3, 517 }, { 5, 7 } };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void PlainRowsGiveTheGeneralPathsTokensAndLogprobs(int rows, int vocab)
    {
        using var temporaries = torch.NewDisposeScope();
        using var generator = new Generator((ulong)(rows * 1000 + vocab));
        using var logits = randn(rows, vocab, generator: generator).mul(4);
        var plain = Sampler.Sample(logits, [.. Enumerable.Range(0, rows).Select(_ => Row())]);
        var general = Sampler.Sample(logits, [.. Enumerable.Range(0, rows).Select(_ => Row(top: 1))]);
        using var expected = logits.argmax(-1);
        for (int i = 0; i < rows; i++)
        {
            Assert.Equal(expected[i].item<long>(), plain[i].TokenId);
            Assert.Equal(general[i].TokenId, plain[i].TokenId);
            Assert.Equal(general[i].Logit, plain[i].Logit);
            Assert.Equal(general[i].Logprob, plain[i].Logprob, 5);
            Assert.Empty(plain[i].Top);
        }
    }

    [Theory]
    [InlineData(ScalarType.Float32)]
    [InlineData(ScalarType.BFloat16)]
    public void RowsFullOfTiesGiveTheGeneralPathsTokenAndLogprob(ScalarType dtype)
    {
        using var temporaries = torch.NewDisposeScope();
        // Logits rounded to a few integers tie everywhere, in and past the vector width; the
        // general path (torch.argmax: the lowest id among equal maxima) is the reference.
        using var generator = new Generator(7);
        using var logits = randint(-3, 3, [6, 83], generator: generator).to(float32).to(dtype);
        var rows = Enumerable.Range(0, 6).ToArray();
        var plain = Sampler.Sample(logits, [.. rows.Select(_ => Row())]);
        var general = Sampler.Sample(logits, [.. rows.Select(_ => Row(top: 2))]);
        using var expected = logits.to(float32).argmax(-1);
        foreach (int i in rows)
        {
            Assert.Equal(expected[i].item<long>(), plain[i].TokenId);
            Assert.Equal(general[i].TokenId, plain[i].TokenId);
            Assert.Equal(general[i].Logprob, plain[i].Logprob, 5);
        }
    }

    [Fact]
    public void NegativeAndPositiveZeroAreOneMaximum()
    {
        using var temporaries = torch.NewDisposeScope();
        using var logits = tensor(new[] { -1f, -0f, 0f, -2f }).unsqueeze(0);
        Assert.Equal(1, Sampler.Sample(logits, [Row()])[0].TokenId);
        Assert.Equal(1, Sampler.Sample(logits, [Row(top: 1)])[0].TokenId);
    }

    [Fact]
    public void TiesGoToTheLowestIdPastTheVectorWidth()
    {
        using var temporaries = torch.NewDisposeScope();
        var values = Enumerable.Repeat(-1f, 40).ToArray();
        values[37] = values[21] = values[33] = 5f;
        values[3] = float.NegativeInfinity;
        using var logits = tensor(values).unsqueeze(0);
        var token = Sampler.Sample(logits, [Row()])[0];
        Assert.Equal(21, token.TokenId);
        Assert.Equal(5f - Math.Log(3 * Math.Exp(5) + 36 * Math.Exp(-1)), token.Logprob, 5);
    }

    [Fact]
    public void BFloat16LogitsAreReadAsTheirFloat32Values()
    {
        using var temporaries = torch.NewDisposeScope();
        using var logits = tensor(new[] { 0.5f, 2.25f, -3f, 2.25f, 1f }).to(ScalarType.BFloat16).unsqueeze(0);
        var token = Sampler.Sample(logits, [Row()])[0];
        Assert.Equal(1, token.TokenId);
        Assert.Equal(2.25f, token.Logit);
    }

    [Fact]
    public void ARowWithANaNIsLeftToTheGeneralPath()
    {
        using var temporaries = torch.NewDisposeScope();
        // torch.argmax takes NaN as the maximum; the plain path must not answer differently.
        using var logits = tensor(new[] { 1f, float.NaN, 3f }).unsqueeze(0);
        Assert.Equal(1, Sampler.Sample(logits, [Row()])[0].TokenId);
    }

    [Fact]
    public void AStepsRowsWithNaNOrInfinityFailAloneBesidePlainRows()
    {
        using var temporaries = torch.NewDisposeScope();
        using var logits = tensor(new[,] { { 1f, 4f, 2f }, { 1f, float.NaN, 2f }, { float.PositiveInfinity, 0f, 0f } });
        var output = ModelRunner.Sample(logits, [Row(), Row(), Row()]);
        Assert.Equal(1, output.Samples[0]!.TokenId);
        Assert.Equal([1, 2], output.Failures.Keys.Order());
    }
}
