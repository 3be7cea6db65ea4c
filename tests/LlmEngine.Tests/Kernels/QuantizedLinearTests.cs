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

    /// <summary>x [m, k] whose every block of 32 is exactly representable in Q8_0.</summary>
    private static Tensor ExactActivations(long m, long k, int seed)
    {
        var random = new Random(seed);
        var x = new float[m * k];
        for (long b = 0; b < m * k / 32; b++)
        {
            float scale = MathF.ScaleB(1, random.Next(-8, 3));
            for (int i = 0; i < 32; i++) x[b * 32 + i] = random.Next(-127, 128) * scale;
            x[b * 32 + random.Next(32)] = (random.Next(2) == 0 ? 127 : -127) * scale;
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
    public void ActivationsOfWholeBlocksGiveTheDequantizedProduct(GgmlType type, long m, long k, long n)
    {
        var (weight, dequantized) = RandomWeight(type, n, k, (int)(m * 1000 + k + n));
        using (weight)
        using (dequantized)
        using (var x = ExactActivations(m, k, (int)(m + k)))
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
    public void AnyActivationsStayWithinTheirQuantizationError(GgmlType type, ScalarType dtype)
    {
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
            var blockMax = x64.abs().view(m, k / 32, 32).amax(new long[] { -1 }, keepdim: true).expand(m, k / 32, 32).reshape(m, k);
            using var perElement = blockMax.div(127).mul(0.5 + 1.0 / 1024).add(x64.abs().mul(1.0 / 1024));
            using var bound = perElement.matmul(dequantized.abs().t()).add(1e-4);
            Assert.True(actual.to(ScalarType.Float64).sub(expected).abs().le(bound.add(expected.abs().mul(dtype == ScalarType.BFloat16 ? 1.0 / 128 : 0))).all().item<bool>());
        }
    }

    [Fact]
    public void ShapesThatDoNotFitAreRejectedWithTheirSizes()
    {
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

/// <summary>The portable kernel (what a CPU without AVX-512 VNNI runs) against the same reference.</summary>
[Collection(NativeIsaCollection.Name)]
public class QuantizedLinearPortableTests
{
    [Theory]
    [InlineData(GgmlType.Q8_0)]
    [InlineData(GgmlType.Q4_0)]
    public void ThePortableKernelMatchesTheVectorOne(GgmlType type)
    {
        var (weight, dequantized) = QuantizedLinearTests.RandomWeight(type, 33, 96, 5);
        using var _ = dequantized;
        using var __ = weight;
        using var x = randn(new[] { 3L, 96 }, generator: new Generator(9));
        using var vector = empty(3, 33);
        NativeKernels.QuantizedLinear(vector, x, weight);
        string before = NativeKernels.Isa;
        if (!NativeKernels.SelectIsa("avx2")) return;  // this CPU has nothing below what it runs
        try
        {
            using var portable = empty(3, 33);
            NativeKernels.QuantizedLinear(portable, x, weight);
            Assert.InRange(portable.sub(vector).abs().max().item<float>(), 0, 1e-5f * vector.abs().max().item<float>());
        }
        finally
        {
            NativeKernels.SelectIsa(before);
        }
    }
}
