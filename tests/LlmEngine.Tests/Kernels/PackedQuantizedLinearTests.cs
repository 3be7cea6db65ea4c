using LlmEngine.Kernels.Models.Layers;
using LlmEngine.Kernels.Native;
using LlmEngine.Kernels.Quantization;
using TorchSharp;
using static TorchSharp.torch;

namespace LlmEngine.Tests.Kernels;

/// <summary>
/// Q8_0 / Q4_0 weights repacked for the AVX-512 VNNI kernels compute the same integer dot products as the
/// blocks they came from (activations quantized to Q8_0 the same way), so they agree with the unpacked
/// kernel to the float rounding of another summation order, and with the float64 product of the
/// dequantized weights wherever the activations are exact Q8_0 blocks. Packed K-quants (Q4_K, Q5_K,
/// Q6_K) compute the unpacked kernel's integers and the same float operations per super-block: the
/// same bits. Shapes cover one block, an odd number of blocks, rows that are not whole groups of 16,
/// and many rows. (On a CPU without AVX-512 VNNI nothing is packed and these tests have nothing to
/// compare.)
/// </summary>
public class PackedQuantizedLinearTests
{
    private static Tensor Run(Tensor x, PackedQuantizedWeight weight)
    {
        var output = empty(new[] { x.shape[0], weight.Rows }, dtype: x.dtype);
        NativeKernels.QuantizedLinear(output, x, weight);
        return output;
    }

    /// <summary>The largest difference between the packed and the unpacked kernel's outputs on the same random
    /// weight and input, and the largest unpacked output; null where nothing packs.</summary>
    private static (double Difference, double Scale)? Compare(GgmlType type, long m, long k, long n, ScalarType dtype)
    {
        var (weight, dequantized) = QuantizedLinearTests.RandomWeight(type, n, k, (int)(m + k + n));
        using var _ = dequantized;
        using var __ = weight;
        using var packed = PackedQuantizedWeight.TryPack(weight);
        if (packed is null) return null;
        using var x = randn(new[] { m, k }, generator: new Generator(11)).to(dtype);
        using var unpacked = empty(new[] { m, n }, dtype: dtype);
        NativeKernels.QuantizedLinear(unpacked, x, weight);
        using var actual = Run(x, packed);
        using var expected = unpacked.to(ScalarType.Float64);
        return (actual.to(ScalarType.Float64).sub(expected).abs().max().item<double>(), expected.abs().max().item<double>());
    }

    [Theory]
    [InlineData(GgmlType.Q8_0, 1, 768, 64, ScalarType.Float32)]
    [InlineData(GgmlType.Q8_0, 5, 160, 17, ScalarType.Float32)]
    [InlineData(GgmlType.Q8_0, 70, 32, 9, ScalarType.Float32)]
    [InlineData(GgmlType.Q8_0, 3, 96, 40, ScalarType.BFloat16)]
    [InlineData(GgmlType.Q4_0, 1, 768, 64, ScalarType.Float32)]
    [InlineData(GgmlType.Q4_0, 6, 160, 33, ScalarType.Float32)]
    [InlineData(GgmlType.Q4_0, 70, 64, 31, ScalarType.Float32)]
    [InlineData(GgmlType.Q4_0, 2, 96, 40, ScalarType.BFloat16)]
    public void PackedWeightsGiveTheUnpackedKernelsProduct(GgmlType type, long m, long k, long n, ScalarType dtype)
    {
        if (Compare(type, m, k, n, dtype) is not (var difference, var scale)) return;
        Assert.InRange(difference, 0, dtype == ScalarType.BFloat16 ? scale / 128 : 1e-5 * scale);
    }

    [Theory]
    [InlineData(GgmlType.Q4_K, 1, 768, 64, ScalarType.Float32)]
    [InlineData(GgmlType.Q4_K, 6, 512, 33, ScalarType.Float32)]
    [InlineData(GgmlType.Q4_K, 70, 256, 31, ScalarType.Float32)]
    [InlineData(GgmlType.Q4_K, 2, 256, 40, ScalarType.BFloat16)]
    [InlineData(GgmlType.Q5_K, 1, 768, 64, ScalarType.Float32)]
    [InlineData(GgmlType.Q5_K, 6, 512, 33, ScalarType.Float32)]
    [InlineData(GgmlType.Q5_K, 70, 256, 31, ScalarType.Float32)]
    [InlineData(GgmlType.Q5_K, 2, 256, 40, ScalarType.BFloat16)]
    [InlineData(GgmlType.Q6_K, 1, 768, 64, ScalarType.Float32)]
    [InlineData(GgmlType.Q6_K, 6, 512, 33, ScalarType.Float32)]
    [InlineData(GgmlType.Q6_K, 70, 256, 31, ScalarType.Float32)]
    [InlineData(GgmlType.Q6_K, 2, 256, 40, ScalarType.BFloat16)]
    public void PackedKQuantsGiveTheUnpackedKernelsBits(GgmlType type, long m, long k, long n, ScalarType dtype)
    {
        if (Compare(type, m, k, n, dtype) is not (var difference, _)) return;
        Assert.Equal(0, difference);
    }

    /// <summary>Past a few rows (Q6_K: 512) the many-row kernel runs (packed_gemm_avx512.cpp, tiles of many rows):
    /// every row's bits must be those of the same row in a call of any other size, down to one row on the
    /// one-row tiles.</summary>
    [Theory]
    [InlineData(GgmlType.Q8_0, 96, 300)]
    [InlineData(GgmlType.Q4_0, 96, 300)]
    [InlineData(GgmlType.Q4_K, 512, 300)]
    [InlineData(GgmlType.Q5_K, 512, 300)]
    [InlineData(GgmlType.Q6_K, 512, 530)]
    public void ARowsBitsDoNotDependOnItsBatch(GgmlType type, long k, int rows)
    {
        using var temporaries = torch.NewDisposeScope();
        var (weight, dequantized) = QuantizedLinearTests.RandomWeight(type, 40, k, 5);
        using var _ = dequantized;
        using var __ = weight;
        using var packed = PackedQuantizedWeight.TryPack(weight);
        if (packed is null) return;
        using var x = randn(new[] { (long)rows, k }, generator: new Generator(3));
        BatchInvariance.AssertEveryRowUnchanged(x, [1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 100, 255, 256, 257, rows - 1], part => Run(part, packed));
        using var all = Run(x, packed);
        foreach (int row in new[] { 17, 150, rows - 1 })
        {
            using var one = x[row..(row + 1)];
            using var alone = Run(one, packed);
            using var inBatch = all[row..(row + 1)];
            Assert.True(inBatch.eq(alone).all().item<bool>(), $"row {row} alone differs from row {row} of {rows}");
        }
    }

    [Theory]
    [InlineData(GgmlType.Q8_0)]
    [InlineData(GgmlType.Q4_0)]
    public void ExactActivationsGiveTheDequantizedProduct(GgmlType type)
    {
        using var temporaries = torch.NewDisposeScope();
        const long m = 7, k = 224, n = 50;
        var (weight, dequantized) = QuantizedLinearTests.RandomWeight(type, n, k, 3);
        using var _ = dequantized;
        using var __ = weight;
        using var packed = PackedQuantizedWeight.TryPack(weight);
        if (packed is null) return;
        // Whole Q8_0 blocks: small integers times a power of two, one of them ±127 per block.
        var random = new Random(5);
        var values = new float[m * k];
        for (long b = 0; b < m * k / 32; b++)
        {
            float step = MathF.ScaleB(1, random.Next(-6, 2));
            for (int i = 0; i < 32; i++) values[b * 32 + i] = random.Next(-127, 128) * step;
            values[b * 32 + random.Next(32)] = 127 * step;
        }
        using var x = tensor(values).view(m, k);
        using var actual = Run(x, packed);
        using var expected = x.to(ScalarType.Float64).matmul(dequantized.t());
        double scale = expected.abs().max().item<double>();
        Assert.InRange(actual.to(ScalarType.Float64).sub(expected).abs().max().item<double>(), 0, 1e-5 * scale);
    }

    [Fact]
    public void APartWritesOnlyItsColumnsEvenWhenItsRowsAreNotWholeGroups()
    {
        using var temporaries = torch.NewDisposeScope();
        var (weight, dequantized) = QuantizedLinearTests.RandomWeight(GgmlType.Q4_0, 19, 64, 2);
        using var _ = dequantized;
        using var __ = weight;
        using var packed = PackedQuantizedWeight.TryPack(weight);
        if (packed is null) return;
        using var x = randn(new[] { 3L, 64 }, generator: new Generator(4));
        using var fused = full(3, 24, float.NaN);
        NativeKernels.QuantizedLinear(fused, x, packed, column: 2);
        using var alone = Run(x, packed);
        Assert.True(fused[.., 2..21].eq(alone).all().item<bool>());
        Assert.True(fused[.., ..2].isnan().all().item<bool>() && fused[.., 21..].isnan().all().item<bool>());
    }

    /// <summary>With accumulate the product adds itself into out as it is stored: the bits of out.add_(product),
    /// whose product is first rounded to out's dtype (bfloat16), on the one-row tiles and the many-row kernel.</summary>
    [Theory]
    [InlineData(GgmlType.Q8_0, 1, ScalarType.Float32)]
    [InlineData(GgmlType.Q4_0, 1, ScalarType.Float32)]
    [InlineData(GgmlType.Q4_0, 3, ScalarType.BFloat16)]
    [InlineData(GgmlType.Q8_0, 20, ScalarType.Float32)]
    [InlineData(GgmlType.Q4_K, 2, ScalarType.Float32)]
    [InlineData(GgmlType.Q6_K, 5, ScalarType.BFloat16)]
    public void AccumulatingGivesTheBitsOfAnAdd(GgmlType type, long m, ScalarType dtype)
    {
        using var temporaries = torch.NewDisposeScope();
        long k = type is GgmlType.Q8_0 or GgmlType.Q4_0 ? 160 : 512;
        var (weight, dequantized) = QuantizedLinearTests.RandomWeight(type, 37, k, 9);
        using var _ = dequantized;
        using var __ = weight;
        using var packed = PackedQuantizedWeight.TryPack(weight);
        if (packed is null) return;
        using var x = randn(new[] { m, k }, generator: new Generator(6)).to(dtype);
        using var residual = randn(new[] { m, 37L }, generator: new Generator(7)).mul(10).to(dtype);
        using var product = Run(x, packed);
        using var expected = residual.clone().add_(product);
        using var actual = residual.clone();
        NativeKernels.QuantizedLinear(actual, x, packed, accumulate: true);
        Assert.True(actual.eq(expected).all().item<bool>(), $"{type} x {m} rows ({dtype}) added differs from out.add_(product)");
    }

    /// <summary>Linear.TryAddTo (a decode layer's o and down projections into its residual) gives the bits of
    /// residual.add_(Linear.Apply(...)); with a bias, or LLM_FUSED_RESIDUAL off, it declines and leaves residual as it was.</summary>
    [Theory]
    [InlineData(GgmlType.Q4_0)]
    [InlineData(GgmlType.Q8_0)]
    public void LinearTryAddToGivesTheBitsOfApplyThenAdd(GgmlType type)
    {
        using var temporaries = torch.NewDisposeScope();
        var (weight, dequantized) = QuantizedLinearTests.RandomWeight(type, 48, 96, 4);
        using var _ = dequantized;
        using var linear = LinearWeight.Of(weight);
        using var bias = randn(48, generator: new Generator(2));
        using var x = randn(new[] { 2L, 96 }, generator: new Generator(3));
        using var residual = randn(new[] { 2L, 48 }, generator: new Generator(5));
        using var product = Linear.Apply(x, linear);
        using var expected = residual.clone().add_(product);
        using var actual = residual.clone();
        Assert.True(Linear.TryAddTo(actual, x, linear));
        Assert.True(actual.eq(expected).all().item<bool>(), "residual differs from residual.add_(Linear.Apply(...))");
        using var untouched = residual.clone();
        Assert.False(Linear.TryAddTo(untouched, x, linear, bias));
        bool before = Linear.FusedResidual;
        try
        {
            Linear.FusedResidual = false;
            Assert.False(Linear.TryAddTo(untouched, x, linear));
        }
        finally
        {
            Linear.FusedResidual = before;
        }
        Assert.True(untouched.eq(residual).all().item<bool>(), "a declined add changed the residual");
    }

    [Fact]
    public void AnInputOfAnotherWidthIsRejectedWithTheShapes()
    {
        using var temporaries = torch.NewDisposeScope();
        var (weight, dequantized) = QuantizedLinearTests.RandomWeight(GgmlType.Q8_0, 16, 64, 1);
        using var _ = dequantized;
        using var __ = weight;
        using var packed = PackedQuantizedWeight.TryPack(weight);
        if (packed is null) return;
        using var x = zeros(2, 32);
        var error = Assert.Throws<ArgumentException>(() => Run(x, packed));
        Assert.Contains("[2, 32]", error.Message);
    }
}
