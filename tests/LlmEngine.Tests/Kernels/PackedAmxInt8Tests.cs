using LlmEngine.Kernels.Native;
using LlmEngine.Kernels.Quantization;
using TorchSharp;
using static TorchSharp.torch;

namespace LlmEngine.Tests.Kernels;

/// <summary>
/// The AMX-INT8 kernel of packed Q8_0 / Q4_0 weights (kernels/packed_gemm_amx.cpp) computes each block's exact
/// integer dots on tiles and then the AVX-512 many-row kernel's float operations in the same order: the same
/// bits, whatever the row count (tiles of 16 rows, partial last tiles), the number of blocks (odd: no pair for
/// the last), the columns (groups of 16 taken in pairs, a partial last group) and the output (plain, added into
/// a residual, bfloat16). A CPU or OS without AMX-INT8 has no AMX kernel to compare: these tests return early there.
/// </summary>
[Collection(NativeIsaCollection.Name)]
public class PackedAmxInt8Tests
{
    // product(x) with AMX-INT8 off, then on; null where AMX-INT8 is not available.
    private static (Tensor Avx512, Tensor Amx)? OnBoth(Func<Tensor> product)
    {
        if (!NativeKernels.AmxInt8) return null;
        Tensor avx512;
        try
        {
            NativeKernels.AmxInt8 = false;
            avx512 = product();
        }
        finally
        {
            NativeKernels.AmxInt8 = true;
        }
        return (avx512, product());
    }

    private static void AssertSameBits(GgmlType type, long m, long k, long n, ScalarType dtype, bool accumulate)
    {
        using var temporaries = torch.NewDisposeScope();
        var (weight, dequantized) = QuantizedLinearTests.RandomWeight(type, n, k, (int)(m + 3 * k + n));
        using var _ = dequantized;
        using var __ = weight;
        using var packed = PackedQuantizedWeight.TryPack(weight);
        if (packed is null) return;  // no AVX-512 VNNI: nothing packs
        using var x = randn(new[] { m, k }, generator: new Generator((ulong)(m + k))).to(dtype);
        using var residual = randn(new[] { m, n }, generator: new Generator(7)).to(dtype);
        Tensor Run()
        {
            var output = accumulate ? residual.clone() : empty(new[] { m, n }, dtype: dtype);
            NativeKernels.QuantizedLinear(output, x, packed, accumulate: accumulate);
            return output;
        }
        if (OnBoth(Run) is not var (avx512, amx)) return;
        using var ___ = avx512;
        using var ____ = amx;
        using var equal = amx.eq(avx512).all(1);
        bool[] rows = equal.data<bool>().ToArray();
        Assert.True(rows.All(r => r), $"{type} {m}x{k}x{n}: rows {string.Join(", ", Enumerable.Range(0, (int)m).Where(i => !rows[i]).Take(5))} differ");
    }

    /// <summary>Linux lists amx_int8 in /proc/cpuinfo when the CPU has it and the kernel manages the tile state;
    /// then the process gets the permission and the kernels use it, unless LLM_AMX=0.</summary>
    [Fact]
    public void AmxIsOnWhereLinuxListsIt()
    {
        bool listed = File.Exists("/proc/cpuinfo") && File.ReadLines("/proc/cpuinfo").Any(l => l.StartsWith("flags") && l.Split(' ').Contains("amx_int8"));
        bool wanted = Environment.GetEnvironmentVariable("LLM_AMX") is not { } v || !v.StartsWith('0');
        Assert.Equal(listed && wanted && NativeKernels.IsAvailable, NativeKernels.AmxInt8);
    }

    [Theory]
    [InlineData(GgmlType.Q8_0, 4)]
    [InlineData(GgmlType.Q8_0, 8)]
    [InlineData(GgmlType.Q8_0, 15)]
    [InlineData(GgmlType.Q8_0, 16)]
    [InlineData(GgmlType.Q8_0, 17)]
    [InlineData(GgmlType.Q8_0, 33)]
    [InlineData(GgmlType.Q8_0, 64)]
    [InlineData(GgmlType.Q8_0, 130)]
    [InlineData(GgmlType.Q8_0, 512)]
    [InlineData(GgmlType.Q4_0, 4)]
    [InlineData(GgmlType.Q4_0, 8)]
    [InlineData(GgmlType.Q4_0, 15)]
    [InlineData(GgmlType.Q4_0, 16)]
    [InlineData(GgmlType.Q4_0, 17)]
    [InlineData(GgmlType.Q4_0, 33)]
    [InlineData(GgmlType.Q4_0, 64)]
    [InlineData(GgmlType.Q4_0, 130)]
    [InlineData(GgmlType.Q4_0, 512)]
    public void AmxGivesTheAvx512KernelsBits(GgmlType type, long m)
    {
        // 7 blocks of 32 (odd), 100 columns: 6 whole groups of 16 and a partial one (groups go in pairs).
        AssertSameBits(type, m, 224, 100, ScalarType.Float32, accumulate: false);
    }

    [Theory]
    [InlineData(GgmlType.Q8_0, 33, 96, 40, ScalarType.Float32)]
    [InlineData(GgmlType.Q4_0, 130, 160, 17, ScalarType.Float32)]
    [InlineData(GgmlType.Q8_0, 17, 32, 9, ScalarType.BFloat16)]
    [InlineData(GgmlType.Q4_0, 300, 736, 72, ScalarType.BFloat16)]
    public void AmxAddedIntoAResidualGivesTheAvx512KernelsBits(GgmlType type, long m, long k, long n, ScalarType dtype)
    {
        AssertSameBits(type, m, k, n, dtype, accumulate: true);
    }

    [Theory]
    [InlineData(GgmlType.Q8_0, 64, 32, 16, ScalarType.BFloat16)]
    [InlineData(GgmlType.Q4_0, 48, 2080, 33, ScalarType.Float32)]
    public void AmxPlainOutputGivesTheAvx512KernelsBits(GgmlType type, long m, long k, long n, ScalarType dtype)
    {
        AssertSameBits(type, m, k, n, dtype, accumulate: false);
    }
}
