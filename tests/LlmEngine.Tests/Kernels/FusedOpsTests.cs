using LlmEngine.Kernels.Models;
using LlmEngine.Kernels.Models.Layers;
using LlmEngine.Kernels.Native;
using LlmEngine.Kernels.Quantization;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace LlmEngine.Tests.Kernels;

/// <summary>The fused decode-step calls (RMSNorm with its residual add, SiLU-and-multiply, rotary in
/// place) against the libtorch chains they replace, written out here as plain references, in float32
/// and bfloat16, at row counts and widths that leave vector tails.</summary>
public class FusedOpsTests
{
    [Theory]
    [InlineData(1, 768, false)]
    [InlineData(5, 100, false)]
    [InlineData(64, 2048, false)]
    [InlineData(3, 768, true)]
    [InlineData(300, 768, false)]
    [InlineData(129, 512, true)]
    [InlineData(1365, 768, false)] // a prompt chunk's output: recycled memory (RecycledTensors)
    public void RmsNormMatchesTheLibTorchChain(int rows, int width, bool bf16)
    {
        using var temporaries = torch.NewDisposeScope();
        var dtype = bf16 ? ScalarType.BFloat16 : ScalarType.Float32;
        using var generator = new Generator((ulong)(rows * 31 + width));
        using var x = randn(new long[] { rows, width }, generator: generator).mul(3).to(dtype);
        using var weight = randn(new long[] { width }, generator: generator).add(1).to(dtype);
        using var expected = Reference(x, weight, 1e-5, unitOffset: false);
        using var actual = FusedOps.RmsNorm(x, null, weight, 1e-5, unitOffset: false);
        AssertClose(expected, actual, bf16);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void RmsNormAddsTheResidualInPlaceFirst(bool bf16)
    {
        using var temporaries = torch.NewDisposeScope();
        var dtype = bf16 ? ScalarType.BFloat16 : ScalarType.Float32;
        using var generator = new Generator(7);
        using var x = randn(new long[] { 4, 96 }, generator: generator).to(dtype);
        using var residual = randn(new long[] { 4, 96 }, generator: generator).to(dtype);
        using var weight = randn(new long[] { 96 }, generator: generator).to(dtype);
        using var sum = x.add(residual);
        using var expected = Reference(sum, weight, 1e-6, unitOffset: false);
        using var actual = FusedOps.RmsNorm(x, residual, weight, 1e-6, unitOffset: false);
        Assert.True(Same(x, sum), "x should hold x + residual, rounded to its dtype");
        AssertClose(expected, actual, bf16);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void UnitOffsetRmsNormAppliesOnePlusTheGainInFloat32(bool bf16)
    {
        using var temporaries = torch.NewDisposeScope();
        var dtype = bf16 ? ScalarType.BFloat16 : ScalarType.Float32;
        using var generator = new Generator(11);
        using var x = randn(new long[] { 2, 200 }, generator: generator).to(dtype);
        using var weight = randn(new long[] { 200 }, generator: generator).mul(0.1).to(dtype);
        using var expected = Reference(x, weight, 1e-6, unitOffset: true);
        using var actual = FusedOps.RmsNorm(x, null, weight, 1e-6, unitOffset: true);
        AssertClose(expected, actual, bf16);
    }

    [Theory]
    [InlineData(1, 2048, false)]
    [InlineData(7, 37, false)]
    [InlineData(64, 512, false)]
    [InlineData(2, 2048, true)]
    [InlineData(3, 21, true)]
    [InlineData(200, 2048, false)]
    [InlineData(130, 768, true)]
    [InlineData(700, 2048, true)] // recycled memory, as above
    public void SiluMulMatchesSiluTimesUp(int rows, int h, bool bf16)
    {
        using var temporaries = torch.NewDisposeScope();
        var dtype = bf16 ? ScalarType.BFloat16 : ScalarType.Float32;
        using var generator = new Generator((ulong)(rows * 13 + h));
        // Wide enough to reach exp's clamps at both ends.
        using var gateUp = randn(new long[] { rows, 2 * h }, generator: generator).mul(8).to(dtype);
        using var extremes = tensor(new[] { -120f, -88f, -20f, 0f, 20f, 88f, 120f }).to(dtype);
        gateUp[0].narrow(0, 0, 7).copy_(extremes);
        var halves = gateUp.chunk(2, -1);
        using var expected = F.silu(halves[0]).mul_(halves[1]);
        using var actual = FusedOps.SiluMul(gateUp);
        AssertClose(expected, actual, bf16);
    }

    [Theory]
    [InlineData(RotaryStyle.HalfSplit, 64, 64, false, 5)]
    [InlineData(RotaryStyle.Interleaved, 64, 64, false, 5)]
    [InlineData(RotaryStyle.HalfSplit, 48, 32, false, 5)]
    [InlineData(RotaryStyle.HalfSplit, 64, 64, true, 5)]
    [InlineData(RotaryStyle.Interleaved, 80, 80, true, 5)]
    [InlineData(RotaryStyle.HalfSplit, 64, 64, false, 200)]
    [InlineData(RotaryStyle.HalfSplit, 64, 64, true, 130)]
    public void RotaryInPlaceEqualsTheLibTorchRotation(RotaryStyle style, int headSize, int rotated, bool bf16, int tokens)
    {
        using var temporaries = torch.NewDisposeScope();
        var dtype = bf16 ? ScalarType.BFloat16 : ScalarType.Float32;
        const int queryHeads = 4, kvHeads = 2;
        using var rotary = new RotaryEmbedding(rotated, 256, 10000, style, null, CPU);
        using var generator = new Generator((ulong)(headSize + rotated));
        // A prompt's rows (past 32K elements the call spreads them over the pool) or a few scattered positions.
        using var positions = tokens == 5 ? tensor(new long[] { 0, 1, 17, 100, 255 }) : arange(tokens).mul(37).remainder(256);
        var (cos, sin) = rotary.For(positions);
        using var cosTable = cos;
        using var sinTable = sin;
        int width = (queryHeads + 2 * kvHeads) * headSize;
        using var projected = randn(new long[] { tokens, width }, generator: generator).to(dtype);
        int q = queryHeads * headSize, kv = kvHeads * headSize;
        using var expectedQuery = rotary.Apply(projected[.., ..q].reshape(tokens, queryHeads, headSize), cos, sin);
        using var expectedKey = rotary.Apply(projected[.., q..(q + kv)].reshape(tokens, kvHeads, headSize), cos, sin);
        using var values = projected[.., (q + kv)..].clone();

        Assert.True(rotary.TryRotateInPlace(projected, queryHeads + kvHeads, headSize, cos, sin));

        Assert.True(Same(expectedQuery.reshape(tokens, q), projected[.., ..q]), "queries differ");
        Assert.True(Same(expectedKey.reshape(tokens, kv), projected[.., q..(q + kv)]), "keys differ");
        Assert.True(Same(values, projected[.., (q + kv)..]), "values must be left alone");
    }

    [Fact]
    public void ContiguousRowsOfAnyCountAreTakenAndStridedOnesGoToLibTorch()
    {
        using var temporaries = torch.NewDisposeScope();
        using var prompt = zeros(2048, 16);
        using var one = zeros(1, 16);
        using var strided = zeros(4, 32)[.., ..16];
        using var integers = zeros(new long[] { 4, 16 }, dtype: int32);
        Assert.True(FusedOps.Takes(prompt));
        Assert.True(FusedOps.Takes(one));
        Assert.False(FusedOps.Takes(strided));
        Assert.False(FusedOps.Takes(integers));
    }

    private static bool Same(Tensor a, Tensor b) => a.eq(b).all().item<bool>();

    // Norms.Rms before the fused call: x in float32, x · rsqrt(mean(x²) + eps), rounded to the
    // dtype then times the gain (Gemma: times 1 + gain in float32, then rounded).
    private static Tensor Reference(Tensor x, Tensor weight, double epsilon, bool unitOffset)
    {
        using var scope = NewDisposeScope();
        var x32 = x.to(float32);
        var normalized = x32.mul(x32.pow(2).mean(new long[] { -1 }, keepdim: true).add_(epsilon).rsqrt_());
        var result = unitOffset ? normalized.mul_(weight.to(float32).add(1)).to(x.dtype) : normalized.to(x.dtype).mul_(weight);
        return result.MoveToOuterDisposeScope();
    }

    // float32: a few ulps (sums in another order, exp to ~1 ulp); bfloat16: only where the float32
    // values straddle a rounding boundary (a few in a hundred). There an RMSNorm, which rounds the
    // normalized value before the gain as libtorch's chain does, is off by one step of that value
    // (up to 2^-7 of it) times the gain, and the product's own rounding may flip too (2^-8): so
    // 3/256 relative, which a few thousand elements reach (129 x 512 did).
    private static void AssertClose(Tensor expected, Tensor actual, bool bf16)
    {
        Assert.Equal(expected.dtype, actual.dtype);
        Assert.Equal(expected.shape, actual.shape);
        using var e = expected.to(float32);
        using var a = actual.to(float32);
        double rtol = bf16 ? 3.0 / 256 : 2e-6, atol = bf16 ? 1e-6 : 1e-7;
        Assert.True(a.allclose(e, rtol: rtol, atol: atol), $"max difference {(a - e).abs().max().item<float>()}");
        if (bf16)
        {
            using var exact = a.eq(e).to(float32).mean();
            Assert.True(exact.item<float>() > 0.95f, $"only {exact.item<float>():P1} of the bfloat16 results are exact");
        }
    }
}

/// <summary>The portable SiLU-and-multiply (CPUs without AVX-512) against libtorch's; the AVX-512 RMSNorm
/// and rotary rows against the portable loops, bit for bit (same operations in the same order).</summary>
[Collection(NativeIsaCollection.Name)]
public class FusedOpsIsaTests
{
    // fn on the portable loops (the instruction set lowered to AVX2), then on AVX-512; null where the CPU lacks either.
    private static (Tensor Portable, Tensor Vector)? OnBoth(Func<Tensor> fn)
    {
        string before = NativeKernels.Isa;
        if (before != "avx512" || !NativeKernels.SelectIsa("avx2")) return null;
        Tensor portable;
        try
        {
            portable = fn();
        }
        finally
        {
            NativeKernels.SelectIsa(before);
        }
        return (portable, fn());
    }

    [Theory]
    [InlineData(3, 768, false, false, false)]
    [InlineData(2, 100, false, true, false)]
    [InlineData(5, 773, true, true, false)]
    [InlineData(4, 200, true, false, true)]
    [InlineData(1, 7, false, false, true)]
    public void VectorRmsNormGivesThePortableBits(int rows, int width, bool bf16, bool residual, bool unitOffset)
    {
        using var temporaries = torch.NewDisposeScope();
        var dtype = bf16 ? ScalarType.BFloat16 : ScalarType.Float32;
        using var generator = new Generator((ulong)(rows * 7 + width));
        using var x = randn(new long[] { rows, width }, generator: generator).mul(3).to(dtype);
        using var r = randn(new long[] { rows, width }, generator: generator).to(dtype);
        using var weight = randn(new long[] { width }, generator: generator).add(1).to(dtype);
        Tensor Run()
        {
            using var xs = x.clone();
            using var normed = FusedOps.RmsNorm(xs, residual ? r : null, weight, 1e-5, unitOffset);
            return cat([xs, normed], 1);
        }
        if (OnBoth(Run) is not var (portable, vector)) return;
        using var _ = portable;
        using var __ = vector;
        Assert.True(portable.eq(vector).all().item<bool>(), $"max difference {(portable.to(float32) - vector.to(float32)).abs().max().item<float>()}");
    }

    [Theory]
    [InlineData(64, 64, false)]
    [InlineData(64, 24, true)]
    [InlineData(80, 80, false)]
    public void VectorHalfSplitRotaryGivesThePortableBits(int headSize, int rotated, bool bf16)
    {
        using var temporaries = torch.NewDisposeScope();
        var dtype = bf16 ? ScalarType.BFloat16 : ScalarType.Float32;
        const int heads = 6, tokens = 9;
        using var rotary = new RotaryEmbedding(rotated, 256, 10000, RotaryStyle.HalfSplit, null, CPU);
        using var generator = new Generator((ulong)(headSize + rotated));
        using var positions = arange(tokens).mul(29).remainder(256);
        var (cos, sin) = rotary.For(positions);
        using var cosTable = cos;
        using var sinTable = sin;
        using var projected = randn(new long[] { tokens, (heads + 2) * headSize }, generator: generator).to(dtype);
        Tensor Run()
        {
            var rows = projected.clone();
            Assert.True(rotary.TryRotateInPlace(rows, heads, headSize, cos, sin));
            return rows;
        }
        if (OnBoth(Run) is not var (portable, vector)) return;
        using var _ = portable;
        using var __ = vector;
        Assert.True(portable.eq(vector).all().item<bool>(), "the rotated rows differ");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void PortableSiluMulMatchesSiluTimesUp(bool bf16)
    {
        using var temporaries = torch.NewDisposeScope();
        string before = NativeKernels.Isa;
        if (!NativeKernels.SelectIsa("avx2")) return;  // this CPU lacks it
        try
        {
            var dtype = bf16 ? ScalarType.BFloat16 : ScalarType.Float32;
            using var generator = new Generator(5);
            using var gateUp = randn(new long[] { 3, 2 * 45 }, generator: generator).mul(6).to(dtype);
            var halves = gateUp.chunk(2, -1);
            using var expected = F.silu(halves[0]).mul_(halves[1]).to(float32);
            using var actual = FusedOps.SiluMul(gateUp).to(float32);
            Assert.True(actual.allclose(expected, rtol: bf16 ? 1.0 / 128 : 2e-6, atol: 1e-6), $"max difference {(actual - expected).abs().max().item<float>()}");
        }
        finally
        {
            NativeKernels.SelectIsa(before);
        }
    }
}

/// <summary>Advising a weight for huge pages (and collapsing its pages now) leaves its values alone.</summary>
public class HugePageAdviceTests
{
    [Fact]
    public void AdvisingAWeightKeepsItsValuesAndCoversItsWholeHugePages()
    {
        using var temporaries = torch.NewDisposeScope();
        using var generator = new Generator(3);
        using var weight = randn(new long[] { 3, 1 << 20 }, generator: generator);  // 12 MiB
        using var copy = weight.clone();
        long advised = HugePages.Advise(weight);
        // 0 where the OS has no transparent huge pages (or LLM_HUGE_PAGES=0); else every whole 2 MiB page inside.
        if (advised != 0) Assert.InRange(advised, 8L << 20, 12L << 20);
        Assert.True(weight.eq(copy).all().item<bool>());
    }
}

/// <summary>A weight moved onto huge pages is an equal copy that starts on a 2 MiB boundary.</summary>
public class HugePagePlacementTests
{
    [Theory]
    [InlineData(768, 2304, false)]
    [InlineData(768, 768, true)]
    public void APlacedWeightEqualsTheOriginalAndStartsOnAHugePage(int columns, int rows, bool bf16)
    {
        using var temporaries = torch.NewDisposeScope();
        using var generator = new Generator(9);
        using var weight = randn(new long[] { rows, columns }, generator: generator).to(bf16 ? bfloat16 : float32);
        using var placed = HugePages.Place(weight);
        Assert.False(ReferenceEquals(placed, weight));
        Assert.Equal(weight.shape, placed.shape);
        Assert.Equal(weight.dtype, placed.dtype);
        Assert.True(placed.eq(weight).all().item<bool>());
        Assert.Equal(0, TensorMemory.DataPointer(placed) % (2L << 20));
    }

    [Fact]
    public void LargeQuantizedWeightsStartOnAHugePage()
    {
        var values = Enumerable.Range(0, 1024 * 1024).Select(i => (i % 17 - 8) / 8f).ToArray();
        using var blocks = QuantizedTensor.Quantize(GgmlType.Q8_0, [1024, 1024], values);  // 1.06 MiB of blocks
        Assert.Equal(0, blocks.Data % (2L << 20));
        var decoded = new float[values.Length];
        blocks.Dequantize(decoded);
        // Q8_0 keeps each value to half a step of max|x| / 127.
        Assert.All(Enumerable.Range(0, 4096), i => Assert.InRange(decoded[i] - values[i], -0.005f, 0.005f));
    }

    [Fact]
    public void AWeightUnderAHugePageStaysWhereItIs()
    {
        using var temporaries = torch.NewDisposeScope();
        using var small = ones(16, 16);
        Assert.True(ReferenceEquals(small, HugePages.Place(small)));
    }
}
