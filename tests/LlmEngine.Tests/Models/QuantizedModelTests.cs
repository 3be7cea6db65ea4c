using LlmEngine.Kernels.Models;
using LlmEngine.Kernels.Quantization;
using LlmEngine.Kernels.Runtime;
using LlmEngine.Kernels.Sampling;
using LlmEngine.Tests.Loading;
using TorchSharp;

namespace LlmEngine.Tests.Models;

/// <summary>
/// stories260K quantized at load time (<c>--quantization</c>) against the same weights in float32:
/// greedy tokens equal until the float model's own top-2 gap is under what rounding the weights
/// moves logits by on this small model (0.5 for Q8_0; Q4_0's step is 16 times coarser: 2.0). The
/// tensors whose rows are not whole blocks (the 172-wide MLP input) stay dense.
/// </summary>
public class QuantizedModelTests
{
    [Theory]
    [InlineData(GgmlType.Q8_0, 0.5)]
    [InlineData(GgmlType.Q4_0, 2.0)]
    public void GreedyTokensFollowTheFloatModelWhileItsChoiceIsClear(GgmlType type, double clearGap)
    {
        using var dense = ModelFactory.Load(SharedModels.Stories260K, "auto", torch.ScalarType.Float32, torch.CPU);
        using var quantized = ModelFactory.Load(SharedModels.Stories260K, "auto", torch.ScalarType.Float32, torch.CPU, quantization: type);
        int compared = 0;
        foreach (var row in Stories260KReferenceTests.Rows)
        {
            var sampling = new SamplingParameters { Temperature = 0, MaxTokens = 24, Logprobs = 2 };
            var eos = dense.Config.EosTokenIds.ToArray();
            var expected = DenseGenerator.Generate(dense.Model, [row.PromptIds], sampling, eos)[0];
            var actual = DenseGenerator.Generate(quantized.Model, [row.PromptIds], sampling, eos)[0];
            for (int i = 0; i < expected.TokenIds.Length; i++)
            {
                var top = expected.Samples[i].Top;
                if (top[0].Logprob - top[1].Logprob < clearGap) break;
                Assert.True(i < actual.TokenIds.Length && actual.TokenIds[i] == expected.TokenIds[i], $"'{row.Prompt}' step {i}: {type} chose a different token");
                compared++;
            }
        }
        Assert.True(compared >= 5, $"only {compared} steps had a clear choice");
    }

    /// <summary>The o (and, where its rows are whole blocks, down) projection adding itself into the residual
    /// (Linear.TryAddTo) gives the tokens and log-probabilities of the path without it (o's product added by
    /// the norm's fused call, down's by libtorch).</summary>
    [Theory]
    [InlineData(GgmlType.Q8_0)]
    [InlineData(GgmlType.Q4_0)]
    public void TheFusedResidualAddGivesTheSameLogprobs(GgmlType type)
    {
        using var quantized = ModelFactory.Load(SharedModels.Stories260K, "auto", torch.ScalarType.Float32, torch.CPU, quantization: type);
        var row = Stories260KReferenceTests.Rows[0];
        var sampling = new SamplingParameters { Temperature = 0, MaxTokens = 12, Logprobs = 2 };
        var eos = quantized.Config.EosTokenIds.ToArray();
        bool before = LlmEngine.Kernels.Models.Layers.Linear.FusedResidual;
        try
        {
            LlmEngine.Kernels.Models.Layers.Linear.FusedResidual = false;
            var expected = DenseGenerator.Generate(quantized.Model, [row.PromptIds], sampling, eos)[0];
            LlmEngine.Kernels.Models.Layers.Linear.FusedResidual = true;
            var actual = DenseGenerator.Generate(quantized.Model, [row.PromptIds], sampling, eos)[0];
            Assert.Equal(expected.TokenIds, actual.TokenIds);
            for (int i = 0; i < expected.TokenIds.Length; i++)
                Assert.Equal(expected.Samples[i].Top.Select(t => t.Logprob), actual.Samples[i].Top.Select(t => t.Logprob));
        }
        finally
        {
            LlmEngine.Kernels.Models.Layers.Linear.FusedResidual = before;
        }
    }

    [Fact]
    public void UnknownQuantizationTypesAreRejectedByName()
    {
        var error = Assert.Throws<ArgumentException>(() => ModelFactory.ParseQuantization("q3_k"));
        Assert.Contains("q8_0, q4_0", error.Message);
    }
}
