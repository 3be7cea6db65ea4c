using LlmEngine.Kernels.Native;
using LlmEngine.Kernels.Quantization;
using TorchSharp;
using static TorchSharp.torch;

namespace LlmEngine.Tests.Kernels;

/// <summary>
/// The native quantized linear against the C# reference: the weights' blocks decoded exactly
/// (GgmlDequantizer) and multiplied in float64. Activations are quantized to Q8_0 inside the
/// kernel, so inputs built from whole Q8_0 blocks (integers times a power of two, one of them
/// ±127 per block) must give the float product to rounding; any other input must stay within
/// the error that rounding activations to 1/254 of their block's largest value allows.
/// </summary>
public class QuantizedLinearTests
{
    internal static (QuantizedTensor Weight, Tensor Dequantized) RandomWeight(GgmlType type, long n, long k, int seed)
    {
        using var values = randn(new[] { n, k }, generator: new Generator((ulong)seed)).mul_(0.02);
        var weight = QuantizedTensorConversions.Quantize(values, type);
        return (weight, weight.ToTensor(ScalarType.Float64));
    }

    /// <summary>Elements per block of the activations' quantization for a weight type: Q8_0's 32, or Q8_K's 256 for K-quants.</summary>
    internal static int ActivationBlock(GgmlType type) => type is GgmlType.Q4_K or GgmlType.Q5_K or GgmlType.Q6_K ? 256 : 32;

    /// <summary>x [m, k] whose every activation block is exactly representable (Q8_0 or Q8_K).</summary>
    private static Tensor ExactActivations(long m, long k, int block, int seed)
    {
        var random = new Random(seed);
        var x = new float[m * k];
        for (long b = 0; b < m * k / block; b++)
        {
            float scale = MathF.ScaleB(1, random.Next(-8, 3));
            for (int i = 0; i < block; i++) x[b * block + i] = random.Next(-127, 128) * scale;
            x[b * block + random.Next(block)] = (random.Next(2) == 0 ? 127 : -127) * scale;
        }
        return tensor(x).view(m, k);
    }

    private static Tensor Run(Tensor x, QuantizedTensor weight)
    {
        var output = empty(new[] { x.shape[0], weight.Rows }, dtype: x.dtype);
        NativeKernels.QuantizedLinear(output, x, weight);
        return output;
    }

    [Theory]
    [InlineData(GgmlType.Q8_0, 1, 768, 64)]
    [InlineData(GgmlType.Q8_0, 5, 96, 17)]
    [InlineData(GgmlType.Q8_0, 70, 32, 9)]
    [InlineData(GgmlType.Q4_0, 1, 768, 64)]
    [InlineData(GgmlType.Q4_0, 6, 96, 17)]
    [InlineData(GgmlType.Q4_0, 70, 160, 5)]
    [InlineData(GgmlType.Q4_K, 1, 768, 64)]
    [InlineData(GgmlType.Q4_K, 6, 512, 17)]
    [InlineData(GgmlType.Q5_K, 1, 768, 64)]
    [InlineData(GgmlType.Q5_K, 9, 256, 21)]
    [InlineData(GgmlType.Q6_K, 1, 768, 64)]
    [InlineData(GgmlType.Q6_K, 70, 512, 5)]
    public void ActivationsOfWholeBlocksGiveTheDequantizedProduct(GgmlType type, long m, long k, long n)
    {
        using var temporaries = torch.NewDisposeScope();
        var (weight, dequantized) = RandomWeight(type, n, k, (int)(m * 1000 + k + n));
        using (weight)
        using (dequantized)
        using (var x = ExactActivations(m, k, ActivationBlock(type), (int)(m + k)))
        using (var actual = Run(x, weight))
        using (var expected = x.to(ScalarType.Float64).matmul(dequantized.t()))
        {
            double scale = expected.abs().max().item<double>();
            Assert.InRange(actual.to(ScalarType.Float64).sub(expected).abs().max().item<double>(), 0, 1e-5 * scale);
        }
    }

    [Theory]
    [InlineData(GgmlType.Q8_0, ScalarType.Float32)]
    [InlineData(GgmlType.Q4_0, ScalarType.Float32)]
    [InlineData(GgmlType.Q8_0, ScalarType.BFloat16)]
    [InlineData(GgmlType.Q4_0, ScalarType.BFloat16)]
    [InlineData(GgmlType.Q4_K, ScalarType.Float32)]
    [InlineData(GgmlType.Q5_K, ScalarType.Float32)]
    [InlineData(GgmlType.Q6_K, ScalarType.Float32)]
    [InlineData(GgmlType.Q6_K, ScalarType.BFloat16)]
    public void AnyActivationsStayWithinTheirQuantizationError(GgmlType type, ScalarType dtype)
    {
        using var temporaries = torch.NewDisposeScope();
        int block = ActivationBlock(type);
        const long m = 9, k = 256, n = 40;
        var (weight, dequantized) = RandomWeight(type, n, k, 7);
        using (weight)
        using (dequantized)
        using (var x = randn(new[] { m, k }, generator: new Generator(3)).to(dtype))
        using (var actual = Run(x, weight))
        {
            var x64 = x.to(ScalarType.Float64);
            using var expected = x64.matmul(dequantized.t());
            // Per element: half a step (block max / 127 / 2, the step itself rounded to float16) and
            // float16's relative error of the scale; summed against |w|.
            var blockMax = x64.abs().view(m, k / block, block).amax(new long[] { -1 }, keepdim: true).expand(m, k / block, block).reshape(m, k);
            using var perElement = blockMax.div(127).mul(0.5 + 1.0 / 1024).add(x64.abs().mul(1.0 / 1024));
            using var bound = perElement.matmul(dequantized.abs().t()).add(1e-4);
            Assert.True(actual.to(ScalarType.Float64).sub(expected).abs().le(bound.add(expected.abs().mul(dtype == ScalarType.BFloat16 ? 1.0 / 128 : 0))).all().item<bool>());
        }
    }

    [Fact]
    public void ShapesThatDoNotFitAreRejectedWithTheirSizes()
    {
        using var temporaries = torch.NewDisposeScope();
        var (weight, dequantized) = RandomWeight(GgmlType.Q8_0, 4, 64, 1);
        using (weight)
        using (dequantized)
        using (var x = zeros(2, 32))
        {
            var error = Assert.Throws<ArgumentException>(() => Run(x, weight));
            Assert.Contains("[2, 32]", error.Message);
        }
    }
}

/// <summary>The AVX2 and scalar kernels (what CPUs without AVX-512 VNNI, or without AVX2, run) against
/// the vector one: the same integer dot products, so they agree to the float rounding of the scaling
/// (K-quants on AVX2 to the bit) and, for Q8_0/Q4_0, of another summation order.</summary>
[Collection(NativeIsaCollection.Name)]
public class QuantizedLinearPortableTests
{
    [Theory]
    [InlineData(GgmlType.Q8_0, "avx2")]
    [InlineData(GgmlType.Q4_0, "avx2")]
    [InlineData(GgmlType.Q8_0, "scalar")]
    [InlineData(GgmlType.Q4_0, "scalar")]
    [InlineData(GgmlType.Q4_K, "avx2")]
    [InlineData(GgmlType.Q5_K, "avx2")]
    [InlineData(GgmlType.Q6_K, "avx2")]
    [InlineData(GgmlType.Q4_K, "scalar")]
    [InlineData(GgmlType.Q5_K, "scalar")]
    [InlineData(GgmlType.Q6_K, "scalar")]
    public void ALowerInstructionSetGivesTheSameProduct(GgmlType type, string isa)
    {
        using var temporaries = torch.NewDisposeScope();
        long k = QuantizedLinearTests.ActivationBlock(type) * 3;
        var (weight, dequantized) = QuantizedLinearTests.RandomWeight(type, 33, k, 5);
        using var _ = dequantized;
        using var __ = weight;
        using var x = randn(new[] { 6L, k }, generator: new Generator(9));
        using var vector = empty(6, 33);
        NativeKernels.QuantizedLinear(vector, x, weight);
        string before = NativeKernels.Isa;
        if (before == isa || !NativeKernels.SelectIsa(isa)) return;  // this CPU runs nothing above it
        try
        {
            using var lower = empty(6, 33);
            NativeKernels.QuantizedLinear(lower, x, weight);
            // K-quants: AVX2 and AVX-512 share the integers and the fused float step per super-block;
            // the baseline-compiled scalar path rounds that step without fused multiply-adds.
            float scale = vector.abs().max().item<float>();
            float tolerance = QuantizedLinearTests.ActivationBlock(type) == 256 ? (isa == "avx2" ? 0 : 1e-6f * scale) : 1e-5f * scale;
            Assert.InRange(lower.sub(vector).abs().max().item<float>(), 0, tolerance);
        }
        finally
        {
            NativeKernels.SelectIsa(before);
        }
    }

    /// <summary>Q8_K activations from the vector quantizer (AVX-512) and from the scalar reference (what AVX2 runs)
    /// where the reference's choices are delicate: the largest magnitude twice with opposite signs (the first one's
    /// sign gives d), a super-block of zeros, and quotients halfway between integers (rounded to even). The same
    /// integers and d give the same product to the bit.</summary>
    [Fact]
    public void KQuantActivationsQuantizeAsTheReferenceOnTies()
    {
        using var temporaries = torch.NewDisposeScope();
        const long m = 4, k = 768;
        var (weight, dequantized) = QuantizedLinearTests.RandomWeight(GgmlType.Q4_K, 33, k, 5);
        using var _ = dequantized;
        using var __ = weight;
        var values = randn(new[] { m, k }, generator: new Generator(3)).data<float>().ToArray();
        values[5] = -3f;
        values[200] = 3f;  // row 0: -3 first
        values[k + 7] = 3f;
        values[k + 9] = -3f;  // row 1: +3 first
        Array.Clear(values, (int)(2 * k + 256), 256);  // row 2: a super-block of zeros
        var random = new Random(8);
        for (long j = 0; j < k; j++) values[3 * k + j] = random.Next(-100, 100) + 0.5f;  // row 3: max -127, so x · -127 / max = x, halfway
        values[3 * k + 17] = values[3 * k + 256 + 40] = values[3 * k + 512 + 3] = -127f;
        using var x = tensor(values).view(m, k);
        using var vector = empty(m, 33);
        NativeKernels.QuantizedLinear(vector, x, weight);
        string before = NativeKernels.Isa;
        if (before == "avx2" || !NativeKernels.SelectIsa("avx2")) return;  // this CPU runs nothing above it
        try
        {
            using var lower = empty(m, 33);
            NativeKernels.QuantizedLinear(lower, x, weight);
            Assert.True(lower.eq(vector).all().item<bool>());
        }
        finally
        {
            NativeKernels.SelectIsa(before);
        }
    }

    [Theory]
    [InlineData(GgmlType.Q8_0)]
    [InlineData(GgmlType.Q6_K)]
    public void PartsOfAFusedProjectionLandInTheirColumns(GgmlType type)
    {
        using var temporaries = torch.NewDisposeScope();
        long k = QuantizedLinearTests.ActivationBlock(type);
        var (first, a) = QuantizedLinearTests.RandomWeight(type, 5, k, 1);
        var (second, b) = QuantizedLinearTests.RandomWeight(GgmlType.Q4_0, 7, k, 2);
        using var _ = a;
        using var __ = b;
        using var x = randn(new[] { 3L, k }, generator: new Generator(4));
        using var fused = full(3, 14, float.NaN);
        NativeKernels.QuantizedLinear(fused, x, first, column: 1);
        NativeKernels.QuantizedLinear(fused, x, second, column: 6);
        using var alone = empty(3, 5);
        NativeKernels.QuantizedLinear(alone, x, first);
        // Views held in variables: a temporary's finalizer could free its tensor during the call that reads it.
        using var parts = fused[.., 1..6];
        using var left = fused[.., 0];
        using var right = fused[.., 13];
        Assert.True(parts.eq(alone).all().item<bool>());
        Assert.True(left.isnan().all().item<bool>() && right.isnan().all().item<bool>());
        first.Dispose();
        second.Dispose();
    }
}
