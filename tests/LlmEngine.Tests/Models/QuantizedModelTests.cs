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

    [Fact]
    public void UnknownQuantizationTypesAreRejectedByName()
    {
        var error = Assert.Throws<ArgumentException>(() => ModelFactory.ParseQuantization("q3_k"));
        Assert.Contains("q8_0, q4_0", error.Message);
    }
}
