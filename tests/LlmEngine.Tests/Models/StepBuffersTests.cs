using LlmEngine.Kernels.Models;
using LlmEngine.Kernels.Models.Layers;
using LlmEngine.Kernels.Quantization;
using LlmEngine.Kernels.Sampling;
using LlmEngine.Tests.Loading;
using TorchSharp;

namespace LlmEngine.Tests.Models;

/// <summary>
/// A prompt step's temporaries written into the thread's step buffers (<see cref="StepBuffers"/>) give the
/// bits of freshly allocated ones: the same tokens and log-probabilities, for a prefill past
/// <see cref="StepBuffers.MinRows"/> rows, when a batch of another size used the buffers before it, and
/// when a model of another dtype did.
/// </summary>
public class StepBuffersTests
{
    [Theory]
    [InlineData(torch.ScalarType.Float32, null)]
    [InlineData(torch.ScalarType.BFloat16, null)]
    [InlineData(torch.ScalarType.Float32, GgmlType.Q8_0)]
    public void AStepsTemporariesInTheBuffersGiveTheBitsOfFreshOnes(torch.ScalarType dtype, GgmlType? quantization)
    {
        using var loaded = ModelFactory.Load(SharedModels.Stories260K, "auto", dtype, torch.CPU, quantization: quantization);
        using var other = ModelFactory.Load(SharedModels.Stories260K, "auto",
            dtype == torch.ScalarType.Float32 ? torch.ScalarType.BFloat16 : torch.ScalarType.Float32, torch.CPU);
        var prompts = Stories260KReferenceTests.Rows.Select(r => r.PromptIds).ToArray();
        var few = prompts.Take(2).ToArray();
        Assert.True(prompts.Sum(p => p.Length) >= StepBuffers.MinRows, "the prefill must be long enough to take the buffers");
        var sampling = new SamplingParameters { Temperature = 0, MaxTokens = 6, Logprobs = 2 };
        var eos = loaded.Config.EosTokenIds.ToArray();
        DenseGeneration[] Run(IReadOnlyList<int[]> batch) => DenseGenerator.Generate(loaded.Model, batch, sampling, eos);
        try
        {
            StepBuffers.Enabled = false;
            var expected = Run(prompts);
            var expectedFew = Run(few);
            StepBuffers.Enabled = true;
            AssertSame(expected, Run(prompts));
            // Buffers grown by the larger batch, then used by another model's dtype, then by a smaller batch.
            DenseGenerator.Generate(other.Model, prompts, sampling, eos);
            AssertSame(expectedFew, Run(few));
            AssertSame(expected, Run(prompts));
        }
        finally
        {
            StepBuffers.Enabled = true;
        }
    }

    private static void AssertSame(DenseGeneration[] expected, DenseGeneration[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.Equal(expected[i].TokenIds, actual[i].TokenIds);
            for (int t = 0; t < expected[i].Samples.Length; t++)
            {
                Assert.Equal(expected[i].Samples[t].Logit, actual[i].Samples[t].Logit);
                Assert.Equal(expected[i].Samples[t].Top.Select(x => x.Logprob), actual[i].Samples[t].Top.Select(x => x.Logprob));
            }
        }
    }
}
