using System.Runtime.InteropServices;

namespace LlmEngine.Kernels.Quantization;

/// <summary>Exact reference decoders of every supported ggml type: the same float operations, in the
/// same order, as ggml's <c>dequantize_row_*</c>, so a tensor decodes to the bits llama.cpp's own
/// dequantizer gives. Scalar code: the definition kernels are checked against, and the loader's
/// path to float weights; not the fast path.</summary>
internal static class GgmlDequantizer
{
    /// <summary>Decodes <paramref name="data"/> (whole blocks of <paramref name="type"/>) into
    /// <paramref name="output"/>, which holds exactly as many elements as the blocks do.</summary>
    public static void Dequantize(GgmlType type, ReadOnlySpan<byte> data, Span<float> output)
    {
        var info = GgmlTypeInfo.Of(type);
        if (data.Length % info.BlockBytes != 0 || (long)data.Length / info.BlockBytes * info.BlockElements != output.Length)
            throw new ArgumentException($"{info.Name}: {data.Length} bytes do not decode to {output.Length} elements");
        switch (type)
        {
            case GgmlType.F32: MemoryMarshal.Cast<byte, float>(data).CopyTo(output); break;
            case GgmlType.F16: F16(MemoryMarshal.Cast<byte, Half>(data), output); break;
            case GgmlType.BF16: BF16(MemoryMarshal.Cast<byte, ushort>(data), output); break;
            case GgmlType.Q8_0: Q8_0(MemoryMarshal.Cast<byte, BlockQ8_0>(data), output); break;
            case GgmlType.Q4_0: Q4_0(MemoryMarshal.Cast<byte, BlockQ4_0>(data), output); break;
            case GgmlType.Q4_K: Q4_K(MemoryMarshal.Cast<byte, BlockQ4_K>(data), output); break;
            case GgmlType.Q5_K: Q5_K(MemoryMarshal.Cast<byte, BlockQ5_K>(data), output); break;
            case GgmlType.Q6_K: Q6_K(MemoryMarshal.Cast<byte, BlockQ6_K>(data), output); break;
            default: throw new NotSupportedException($"no dequantizer for {info.Name}");
        }
    }

    private static void F16(ReadOnlySpan<Half> x, Span<float> y)
    {
        for (int i = 0; i < x.Length; i++) y[i] = (float)x[i];
    }

    private static void BF16(ReadOnlySpan<ushort> x, Span<float> y)
    {
        for (int i = 0; i < x.Length; i++) y[i] = BitConverter.Int32BitsToSingle(x[i] << 16);
    }

    private static void Q8_0(ReadOnlySpan<BlockQ8_0> blocks, Span<float> y)
    {
        for (int b = 0; b < blocks.Length; b++)
        {
            ref readonly var block = ref blocks[b];
            float d = (float)block.D;
            var out32 = y.Slice(b * 32, 32);
            for (int i = 0; i < 32; i++) out32[i] = block.Qs[i] * d;
        }
    }

    private static void Q4_0(ReadOnlySpan<BlockQ4_0> blocks, Span<float> y)
    {
        for (int b = 0; b < blocks.Length; b++)
        {
            ref readonly var block = ref blocks[b];
            float d = (float)block.D;
            var out32 = y.Slice(b * 32, 32);
            for (int i = 0; i < 16; i++)
            {
                out32[i] = ((block.Qs[i] & 0x0F) - 8) * d;
                out32[i + 16] = ((block.Qs[i] >> 4) - 8) * d;
            }
        }
    }

    private static void Q4_K(ReadOnlySpan<BlockQ4_K> blocks, Span<float> y)
    {
        for (int b = 0; b < blocks.Length; b++)
        {
            ref readonly var block = ref blocks[b];
            float d = (float)block.D, min = (float)block.DMin;
            ReadOnlySpan<byte> scales = block.Scales, q = block.Qs;
            var out256 = y.Slice(b * 256, 256);
            for (int j = 0, n = 0; j < 4; j++)
            {
                var (sc1, m1) = KQuantScales.Get(2 * j, scales);
                var (sc2, m2) = KQuantScales.Get(2 * j + 1, scales);
                float d1 = d * sc1, min1 = min * m1, d2 = d * sc2, min2 = min * m2;
                var run = q.Slice(32 * j, 32);
                for (int l = 0; l < 32; l++) out256[n++] = d1 * (run[l] & 0xF) - min1;
                for (int l = 0; l < 32; l++) out256[n++] = d2 * (run[l] >> 4) - min2;
            }
        }
    }

    private static void Q5_K(ReadOnlySpan<BlockQ5_K> blocks, Span<float> y)
    {
        for (int b = 0; b < blocks.Length; b++)
        {
            ref readonly var block = ref blocks[b];
            float d = (float)block.D, min = (float)block.DMin;
            ReadOnlySpan<byte> scales = block.Scales, ql = block.Qs, qh = block.Qh;
            var out256 = y.Slice(b * 256, 256);
            for (int j = 0, n = 0; j < 4; j++)
            {
                var (sc1, m1) = KQuantScales.Get(2 * j, scales);
                var (sc2, m2) = KQuantScales.Get(2 * j + 1, scales);
                float d1 = d * sc1, min1 = min * m1, d2 = d * sc2, min2 = min * m2;
                int u1 = 1 << (2 * j), u2 = 2 << (2 * j);
                var run = ql.Slice(32 * j, 32);
                for (int l = 0; l < 32; l++) out256[n++] = d1 * ((run[l] & 0xF) + ((qh[l] & u1) != 0 ? 16 : 0)) - min1;
                for (int l = 0; l < 32; l++) out256[n++] = d2 * ((run[l] >> 4) + ((qh[l] & u2) != 0 ? 16 : 0)) - min2;
            }
        }
    }

    private static void Q6_K(ReadOnlySpan<BlockQ6_K> blocks, Span<float> y)
    {
        for (int b = 0; b < blocks.Length; b++)
        {
            ref readonly var block = ref blocks[b];
            float d = (float)block.D;
            ReadOnlySpan<byte> qlAll = block.Ql, qhAll = block.Qh;
            ReadOnlySpan<sbyte> scAll = block.Scales;
            for (int half = 0; half < 2; half++)
            {
                var ql = qlAll.Slice(64 * half, 64);
                var qh = qhAll.Slice(32 * half, 32);
                var sc = scAll.Slice(8 * half, 8);
                var out128 = y.Slice(b * 256 + 128 * half, 128);
                for (int l = 0; l < 32; l++)
                {
                    int s = l / 16;
                    int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
                    int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
                    int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                    int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                    out128[l] = d * sc[s] * q1;
                    out128[l + 32] = d * sc[s + 2] * q2;
                    out128[l + 64] = d * sc[s + 4] * q3;
                    out128[l + 96] = d * sc[s + 6] * q4;
                }
            }
        }
    }
}
