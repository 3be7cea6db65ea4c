using LlmEngine.Kernels.Models.Layers;
using LlmEngine.Kernels.Native;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace LlmEngine.Tests.Kernels;

/// <summary>
/// The packed GEMM (float32 and bfloat16 weights packed at load) against the float64 product of the same
/// inputs: each output is one chain of float32 additions of exact products (an FMA rounds once; products
/// of bfloat16 pairs are exact in float32), so it may differ only by those roundings and, for bfloat16
/// output, one more. Row counts from 1 (decode) to 200 (a prompt chunk: more than a register tile and not
/// a whole one), widths that are not whole groups of 16 columns, odd inner sizes (bfloat16: the last pair
/// half zero). The output is poisoned first. (Where the CPU cannot run a dtype's packed kernels nothing
/// packs and the weight stays dense: these tests then have nothing to compare.)
/// </summary>
public class PackedDenseLinearTests
{
    private static (Tensor X, Tensor W) Inputs(long m, long k, long n, ScalarType dtype)
    {
        using var generator = new Generator((ulong)(m * 131 + k * 7 + n));
        return (randn(new[] { m, k }, generator: generator).to(dtype), randn(new[] { n, k }, generator: generator).mul(0.05).to(dtype));
    }

    public static TheoryData<long, long, long, ScalarType> Shapes()
    {
        var data = new TheoryData<long, long, long, ScalarType>();
        foreach (var dtype in new[] { float32, bfloat16 })
            foreach (var (m, k, n) in new (long, long, long)[] { (1, 768, 2304), (2, 33, 37), (3, 2048, 50), (8, 768, 48), (9, 31, 17), (17, 64, 130), (32, 768, 100), (64, 7, 48), (200, 96, 65) })
                data.Add(m, k, n, dtype);
        return data;
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void PackedProductIsTheFloat64ProductWithinItsRoundings(long m, long k, long n, ScalarType dtype)
    {
        using var temporaries = torch.NewDisposeScope();
        var (x, w) = Inputs(m, k, n, dtype);
        using var _ = x;
        using var __ = w;
        using var packed = PackedDenseWeight.TryPack(w);
        if (packed is null) return;
        using var actual = empty(new[] { m, n }, dtype: dtype).fill_(float.NaN);
        using var wide = empty(new[] { m, n }, dtype: float32).fill_(float.NaN);
        packed.Apply(actual, x);
        packed.Apply(wide, x);
        using var exact = F.linear(x.to(float64), w.to(float64));
        // float32 sums of k exact products: within k float32 roundings of the sum of magnitudes.
        using var magnitude = F.linear(x.to(float64).abs(), w.to(float64).abs());
        using var sumError = (wide.to(float64) - exact).abs();
        Assert.True(sumError.le(magnitude.mul(k * 6e-8).add(1e-30)).all().item<bool>(), $"float32 output: max error {sumError.max().item<double>()}");
        using var error = (actual.to(float64) - exact).abs();
        double rounding = dtype == bfloat16 ? 1.0 / 256 : 0;
        Assert.True(error.le(exact.abs().mul(rounding).add(magnitude.mul(k * 6e-8)).add(1e-30)).all().item<bool>(), $"{dtype} output: max error {error.max().item<double>()}");
    }

    [Theory]
    [InlineData(ScalarType.Float32)]
    [InlineData(ScalarType.BFloat16)]
    public void PackedLinearWeightGivesLibTorchsProductWithBiasOnBatchedInput(ScalarType dtype)
    {
        using var temporaries = torch.NewDisposeScope();
        var (x, w) = Inputs(24, 128, 40, dtype);
        using var _ = x;
        using var __ = w;
        using var bias = randn(40).to(dtype);
        using var weight = LinearWeight.Of(w.clone());
        if (weight.Packed is null) return;
        Assert.Null(weight.Dense);
        using var batched = x.view(2, 12, 128);
        using var actual = Linear.Apply(batched, weight, bias);
        using var expected = F.linear(batched.to(float32), w.to(float32), bias.to(float32));
        Assert.Equal(new long[] { 2, 12, 40 }, actual.shape);
        Assert.Equal(dtype, actual.dtype);
        double tolerance = dtype == bfloat16 ? 1e-2 : 1e-4;
        Assert.True(actual.to(float32).allclose(expected, rtol: tolerance, atol: tolerance), $"max difference {(actual.to(float32) - expected).abs().max().item<float>()}");
    }

    [Theory]
    [InlineData(ScalarType.Float32)]
    [InlineData(ScalarType.BFloat16)]
    public void ARowGivesTheSameBitsWhateverElseIsInItsBatch(ScalarType dtype)
    {
        using var temporaries = torch.NewDisposeScope();
        // Every row count (decode batches and prompt chunks) sums each output in the same order: a
        // request's logits do not depend on its batch.
        var (x, w) = Inputs(300, 256, 97, dtype);
        using var _ = x;
        using var __ = w;
        using var packed = PackedDenseWeight.TryPack(w);
        if (packed is null) return;
        BatchInvariance.AssertFirstRowUnchanged(x, [2, 3, 8, 9, 13, 32, 64, 257, 300], part =>
        {
            var output = empty(new[] { part.shape[0], 97 }, dtype: dtype);
            packed.Apply(output, part);
            return output;
        });
    }

    [Theory]
    [InlineData(ScalarType.Float32)]
    [InlineData(ScalarType.BFloat16)]
    public void UnpackingGivesTheWeightBack(ScalarType dtype)
    {
        using var temporaries = torch.NewDisposeScope();
        var (x, w) = Inputs(1, 33, 37, dtype);
        using var _ = x;
        using var __ = w;
        using var packed = PackedDenseWeight.TryPack(w);
        if (packed is null) return;
        using var unpacked = packed.Unpack();
        Assert.True(unpacked.eq(w).all().item<bool>());
    }

    [Theory]
    [InlineData(ScalarType.Float32)]
    [InlineData(ScalarType.BFloat16)]
    public void BorrowedWeightKeepsItsDenseTensor(ScalarType dtype)
    {
        using var temporaries = torch.NewDisposeScope();
        using var w = randn(32, 64).to(dtype);
        using var weight = LinearWeight.Of(w, owned: false);
        if (weight.Packed is null) return;
        Assert.Same(w, weight.Dense);
        Assert.Equal(32, weight.OutFeatures);
    }
}
