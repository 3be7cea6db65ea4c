using LlmEngine.Kernels.Models.Layers;
using LlmEngine.Kernels.Native;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace LlmEngine.Tests.Kernels;

/// <summary>
/// The packed bfloat16 GEMM against the float64 product of the same bfloat16 inputs: products of bfloat16
/// pairs are exact in float32, so it may differ only by the order of its float32 sums and, for bfloat16
/// output, one rounding. Row counts from 1 (decode) to 200 (a prompt chunk: more than a register tile and
/// not a whole one), widths that are not whole groups of 16 columns, odd inner sizes (the last pair half
/// zero). The output is poisoned first. (On a CPU without AVX512_BF16 nothing packs and the weight stays
/// dense: these tests then have nothing to compare.)
/// </summary>
public class PackedBFloat16LinearTests
{
    private static (Tensor X, Tensor W) Inputs(long m, long k, long n)
    {
        using var generator = new Generator((ulong)(m * 131 + k * 7 + n));
        return (randn(new[] { m, k }, generator: generator).to(bfloat16), randn(new[] { n, k }, generator: generator).mul(0.05).to(bfloat16));
    }

    [Theory]
    [InlineData(1, 768, 2304)]
    [InlineData(2, 33, 37)]
    [InlineData(3, 2048, 50)]
    [InlineData(8, 768, 48)]
    [InlineData(9, 31, 17)]
    [InlineData(17, 64, 130)]
    [InlineData(32, 768, 100)]
    [InlineData(64, 7, 48)]
    [InlineData(200, 96, 65)]
    public void PackedProductIsTheFloat64ProductRoundedOnce(long m, long k, long n)
    {
        var (x, w) = Inputs(m, k, n);
        using var _ = x;
        using var __ = w;
        using var packed = PackedBFloat16Weight.TryPack(w);
        if (packed is null) return;
        using var actual = empty(new[] { m, n }, dtype: bfloat16).fill_(float.NaN);
        using var wide = empty(new[] { m, n }, dtype: float32).fill_(float.NaN);
        packed.Apply(actual, x);
        packed.Apply(wide, x);
        using var exact = F.linear(x.to(float64), w.to(float64));
        // float32 sums of k exact products: within k float32 roundings of the sum of magnitudes.
        using var magnitude = F.linear(x.to(float64).abs(), w.to(float64).abs());
        using var sumError = (wide.to(float64) - exact).abs();
        Assert.True(sumError.le(magnitude.mul(k * 6e-8).add(1e-30)).all().item<bool>(), $"float32 output: max error {sumError.max().item<double>()}");
        using var error = (actual.to(float64) - exact).abs();
        Assert.True(error.le(exact.abs().mul(1.0 / 256).add(magnitude.mul(k * 6e-8)).add(1e-30)).all().item<bool>(), $"bfloat16 output: max error {error.max().item<double>()}");
    }

    [Fact]
    public void PackedLinearWeightGivesLibTorchsProductWithBiasOnBatchedInput()
    {
        var (x, w) = Inputs(24, 128, 40);
        using var _ = x;
        using var __ = w;
        using var bias = randn(40).to(bfloat16);
        using var weight = LinearWeight.Of(w.clone());
        if (weight.PackedBFloat16 is null) return;
        Assert.Null(weight.Dense);
        using var batched = x.view(2, 12, 128);
        using var actual = Linear.Apply(batched, weight, bias);
        using var expected = F.linear(batched.to(float32), w.to(float32), bias.to(float32));
        Assert.Equal(new long[] { 2, 12, 40 }, actual.shape);
        Assert.Equal(bfloat16, actual.dtype);
        Assert.True(actual.to(float32).allclose(expected, rtol: 1e-2, atol: 1e-2), $"max difference {(actual.to(float32) - expected).abs().max().item<float>()}");
    }

    [Fact]
    public void ARowGivesTheSameBitsWhateverElseIsInItsBatch()
    {
        // Every row count (decode batches and prompt chunks) sums each output in the same order: a
        // request's logits do not depend on its batch.
        var (x, w) = Inputs(300, 256, 97);
        using var _ = x;
        using var __ = w;
        using var packed = PackedBFloat16Weight.TryPack(w);
        if (packed is null) return;
        BatchInvariance.AssertFirstRowUnchanged(x, [2, 3, 8, 9, 13, 32, 64, 257, 300], part =>
        {
            var output = empty(new[] { part.shape[0], 97 }, dtype: bfloat16);
            packed.Apply(output, part);
            return output;
        });
    }

    [Fact]
    public void UnpackingGivesTheWeightBack()
    {
        var (x, w) = Inputs(1, 33, 37);
        using var _ = x;
        using var __ = w;
        using var packed = PackedBFloat16Weight.TryPack(w);
        if (packed is null) return;
        using var unpacked = packed.Unpack();
        Assert.True(unpacked.eq(w).all().item<bool>());
    }

    [Fact]
    public void BorrowedWeightKeepsItsDenseTensor()
    {
        using var w = randn(32, 64).to(bfloat16);
        using var weight = LinearWeight.Of(w, owned: false);
        if (weight.PackedBFloat16 is null) return;
        Assert.Same(w, weight.Dense);
        Assert.Equal(32, weight.OutFeatures);
    }
}
