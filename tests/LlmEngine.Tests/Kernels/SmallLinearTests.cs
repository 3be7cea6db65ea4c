using LlmEngine.Kernels.Models.Layers;
using LlmEngine.Kernels.Native;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace LlmEngine.Tests.Kernels;

/// <summary>The native small-batch linear against libtorch's, for every row count it takes (float32
/// past 64 rows: the packed-panel GEMM, inner sizes past one panel's 2,048 steps included),
/// ragged output widths, biases, and both dtypes.</summary>
public class SmallLinearTests
{
    [Theory]
    [InlineData(1, 768, 2304)]
    [InlineData(3, 64, 17)]
    [InlineData(6, 128, 8)]
    [InlineData(7, 2048, 768)]
    [InlineData(13, 768, 2051)]
    [InlineData(32, 768, 4096)]
    [InlineData(64, 256, 130)]
    [InlineData(4, 48, 97)]
    [InlineData(65, 768, 70)]
    [InlineData(128, 2048, 100)]
    [InlineData(300, 272, 33)]
    [InlineData(129, 4112, 64)]
    public void MatchesLibTorchInFloat32(int rows, int inputs, int outputs)
    {
        using var temporaries = torch.NewDisposeScope();
        using var generator = new Generator((ulong)(rows * 1000 + outputs));
        using var x = randn(new long[] { rows, inputs }, generator: generator);
        using var w = randn(new long[] { outputs, inputs }, generator: generator);
        using var b = randn(new long[] { outputs }, generator: generator);
        using var expected = F.linear(x, w, b);
        using var actual = Linear.Apply(x, w, b);
        Assert.False(actual.isnan().any().item<bool>());
        Assert.True(actual.allclose(expected, rtol: 1e-4, atol: 1e-3), $"max difference {(actual - expected).abs().max().item<float>()}");
    }

    [Fact]
    public void AFloat32RowGivesTheSameBitsWhateverElseIsInItsBatch()
    {
        using var temporaries = torch.NewDisposeScope();
        // Up to 64 rows (decode batches) one summation order: a request's logits do not depend on its batch.
        using var generator = new Generator(64);
        using var batch = randn(new long[] { 64, 256 }, generator: generator);
        using var w = randn(new long[] { 97, 256 }, generator: generator);
        BatchInvariance.AssertFirstRowUnchanged(batch, [2, 3, 4, 5, 12, 13, 32, 64], part => Linear.Apply(part, w));
    }

    [Fact]
    public void Float32RowsPastTheTilesRunNativeWhereTheGemmRunsAndAreRefusedElsewhere()
    {
        using var temporaries = torch.NewDisposeScope();
        // Prompt chunks reach the native GEMM at AVX-512 (2-3x libtorch's float32 GEMM on the project's machine).
        using var x = randn(new long[] { 200, 64 });
        using var w = randn(new long[] { 40, 64 });
        using var output = empty(new long[] { 200, 40 }).fill_(float.NaN);
        if (!NativeKernels.HasFloat32Gemm)
        {
            Assert.ThrowsAny<Exception>(() => NativeKernels.SmallLinear(output, x, w));
            return;
        }
        NativeKernels.SmallLinear(output, x, w);
        using var expected = F.linear(x, w);
        Assert.True(output.allclose(expected, rtol: 1e-4, atol: 1e-3));
    }

    [Theory]
    [InlineData(1, 768, 2304)]
    [InlineData(5, 2048, 768)]
    [InlineData(8, 768, 333)]
    [InlineData(13, 768, 2051)]
    [InlineData(32, 2048, 768)]
    [InlineData(63, 64, 130)]
    [InlineData(64, 768, 4099)]
    [InlineData(32, 48, 40)]
    public void MatchesLibTorchInBFloat16(int rows, int inputs, int outputs)
    {
        using var temporaries = torch.NewDisposeScope();
        using var generator = new Generator((ulong)(rows * 7 + outputs));
        using var x = randn(new long[] { rows, inputs }, generator: generator).to(bfloat16);
        using var w = randn(new long[] { outputs, inputs }, generator: generator).mul(0.05).to(bfloat16);
        using var expected = F.linear(x.to(float32), w.to(float32));
        using var actual = Linear.Apply(x, w).to(float32);
        // One bfloat16 rounding of each output: relative error under 2^-8.
        Assert.True(actual.allclose(expected, rtol: 1e-2, atol: 1e-2), $"max difference {(actual - expected).abs().max().item<float>()}");
    }

    [Theory]
    [InlineData(1)]
    [InlineData(4)]
    [InlineData(7)]
    [InlineData(32)]
    public void NativeBFloat16RowsEqualTheirFloat32ProductRoundedOnce(int rows)
    {
        using var temporaries = torch.NewDisposeScope();
        // Products of bfloat16 pairs are exact in float32, so the native result may differ from
        // the float32 product only by the order of its float32 sums and the final rounding.
        using var generator = new Generator((ulong)rows);
        using var x = randn(new long[] { rows, 256 }, generator: generator).to(bfloat16);
        using var w = randn(new long[] { 37, 256 }, generator: generator).mul(0.05).to(bfloat16);
        using var actual = empty(new long[] { rows, 37 }, dtype: bfloat16).fill_(float.NaN);
        NativeKernels.SmallLinear(actual, x, w);
        using var exact = F.linear(x.to(float64), w.to(float64));
        using var error = (actual.to(float64) - exact).abs();
        Assert.True(error.le(exact.abs().mul(1.0 / 256).add(1e-3)).all().item<bool>(), $"max error {error.max().item<double>()}");
    }
}
