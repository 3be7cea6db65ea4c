using LlmEngine.Kernels.Models.Layers;
using LlmEngine.Kernels.Native;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace LlmEngine.Tests.Kernels;

/// <summary>The native small-batch linear against libtorch's, for every row count it takes,
/// ragged output widths, biases, and both dtypes; the output is poisoned first.</summary>
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
    public void MatchesLibTorchInFloat32(int rows, int inputs, int outputs)
    {
        using var generator = new Generator((ulong)(rows * 1000 + outputs));
        using var x = randn(new long[] { rows, inputs }, generator: generator);
        using var w = randn(new long[] { outputs, inputs }, generator: generator);
        using var b = randn(new long[] { outputs }, generator: generator);
        using var expected = F.linear(x, w, b);
        using var actual = Linear.Apply(x, w, b);
        Assert.False(actual.isnan().any().item<bool>());
        Assert.True(actual.allclose(expected, rtol: 1e-4, atol: 1e-3), $"max difference {(actual - expected).abs().max().item<float>()}");
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
