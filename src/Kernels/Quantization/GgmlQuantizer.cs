using System.Runtime.InteropServices;

namespace LlmEngine.Kernels.Quantization;

/// <summary>ggml's reference quantizers (<c>quantize_row_*_ref</c>, what <c>llama-quantize</c> uses when it
/// has no importance matrix): the same float operations in the same order, so quantizing the weights of
/// an F32 GGUF file gives the blocks of llama.cpp's quantized file. Lets a safetensors model be quantized
/// at load time. Scalar code, run once per weight.</summary>
internal static class GgmlQuantizer
{
    /// <summary>The types <see cref="Quantize"/> writes.</summary>
    public static bool CanQuantize(GgmlType type) => GgmlTypeInfo.IsSupported(type);

    /// <summary>Encodes <paramref name="x"/> (whole blocks of <paramref name="type"/>) into
    /// <paramref name="blocks"/>, which holds exactly the bytes of those blocks.</summary>
    public static void Quantize(GgmlType type, ReadOnlySpan<float> x, Span<byte> blocks)
    {
        var info = GgmlTypeInfo.Of(type);
        if (x.Length % info.BlockElements != 0 || (long)x.Length / info.BlockElements * info.BlockBytes != blocks.Length)
            throw new ArgumentException($"{info.Name}: {x.Length} elements do not encode to {blocks.Length} bytes");
        switch (type)
        {
            case GgmlType.F32: MemoryMarshal.AsBytes(x).CopyTo(blocks); break;
            case GgmlType.F16: F16(x, MemoryMarshal.Cast<byte, Half>(blocks)); break;
            case GgmlType.BF16: BF16(x, MemoryMarshal.Cast<byte, ushort>(blocks)); break;
            case GgmlType.Q8_0: Q8_0(x, MemoryMarshal.Cast<byte, BlockQ8_0>(blocks)); break;
            case GgmlType.Q4_0: Q4_0(x, MemoryMarshal.Cast<byte, BlockQ4_0>(blocks)); break;
            case GgmlType.Q4_K: KQuantizer.Q4_K(x, MemoryMarshal.Cast<byte, BlockQ4_K>(blocks)); break;
            case GgmlType.Q5_K: KQuantizer.Q5_K(x, MemoryMarshal.Cast<byte, BlockQ5_K>(blocks)); break;
            case GgmlType.Q6_K: KQuantizer.Q6_K(x, MemoryMarshal.Cast<byte, BlockQ6_K>(blocks)); break;
            default: throw new NotSupportedException($"no quantizer for {info.Name}");
        }
    }

    private static void F16(ReadOnlySpan<float> x, Span<Half> y)
    {
        for (int i = 0; i < x.Length; i++) y[i] = (Half)x[i];
    }

    /// <summary>Round to nearest even; NaN stays a (quiet) NaN, as ggml_compute_fp32_to_bf16.</summary>
    private static void BF16(ReadOnlySpan<float> x, Span<ushort> y)
    {
        for (int i = 0; i < x.Length; i++)
        {
            uint u = BitConverter.SingleToUInt32Bits(x[i]);
            y[i] = (u & 0x7fffffff) > 0x7f800000
                ? (ushort)((u >> 16) | 64)
                : (ushort)((u + (0x7fff + ((u >> 16) & 1))) >> 16);
        }
    }

    private static void Q8_0(ReadOnlySpan<float> x, Span<BlockQ8_0> blocks)
    {
        for (int b = 0; b < blocks.Length; b++)
        {
            var v = x.Slice(b * 32, 32);
            float amax = 0;
            foreach (float f in v) amax = MathF.Max(amax, MathF.Abs(f));
            float d = amax / 127;
            float id = d != 0 ? 1.0f / d : 0.0f;
            ref var block = ref blocks[b];
            block.D = (Half)d;
            for (int i = 0; i < 32; i++) block.Qs[i] = (sbyte)MathF.Round(v[i] * id, MidpointRounding.AwayFromZero);
        }
    }

    /// <summary>The scale maps the element of largest magnitude to -8 exactly, so its sign decides
    /// which end of [-8, 7] is used in full.</summary>
    private static void Q4_0(ReadOnlySpan<float> x, Span<BlockQ4_0> blocks)
    {
        for (int b = 0; b < blocks.Length; b++)
        {
            var v = x.Slice(b * 32, 32);
            float amax = 0, max = 0;
            foreach (float f in v)
            {
                if (amax < MathF.Abs(f))
                {
                    amax = MathF.Abs(f);
                    max = f;
                }
            }
            float d = max / -8;
            float id = d != 0 ? 1.0f / d : 0.0f;
            ref var block = ref blocks[b];
            block.D = (Half)d;
            for (int i = 0; i < 16; i++)
            {
                // Truncation toward zero after +8.5 is ggml's rounding; the value is never negative.
                int lo = Math.Min(15, (int)(v[i] * id + 8.5f));
                int hi = Math.Min(15, (int)(v[i + 16] * id + 8.5f));
                block.Qs[i] = (byte)(lo | (hi << 4));
            }
        }
    }
}
