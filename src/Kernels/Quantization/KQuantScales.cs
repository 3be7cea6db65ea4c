namespace LlmEngine.Kernels.Quantization;

/// <summary>The 12 scale bytes of Q4_K and Q5_K: eight 6-bit scales and eight 6-bit mins.
/// <code>
/// bytes 0-3:  scale j (low 6 bits) | scale j+4 bits 4-5 (top 2 bits)      j &lt; 4
/// bytes 4-7:  min j   (low 6 bits) | min j+4 bits 4-5   (top 2 bits)
/// bytes 8-11: scale j+4 bits 0-3 (low nibble) | min j+4 bits 0-3 (high nibble)
/// </code></summary>
internal static class KQuantScales
{
    /// <summary>Scale and min of sub-block <paramref name="j"/> (0-7); ggml's get_scale_min_k4.</summary>
    public static (byte Scale, byte Min) Get(int j, ReadOnlySpan<byte> scales) => j < 4
        ? ((byte)(scales[j] & 63), (byte)(scales[j + 4] & 63))
        : ((byte)((scales[j + 4] & 0xF) | ((scales[j - 4] >> 6) << 4)),
           (byte)((scales[j + 4] >> 4) | ((scales[j] >> 6) << 4)));

    /// <summary>Packs eight 6-bit scales and mins the way <see cref="Get"/> reads them.</summary>
    public static void Pack(ReadOnlySpan<byte> scales, ReadOnlySpan<byte> mins, Span<byte> packed)
    {
        packed[..12].Clear();
        for (int j = 0; j < 8; j++)
        {
            byte ls = scales[j], lm = mins[j];
            if (j < 4)
            {
                packed[j] = ls;
                packed[j + 4] = lm;
            }
            else
            {
                packed[j + 4] = (byte)((ls & 0xF) | ((lm & 0xF) << 4));
                packed[j - 4] |= (byte)((ls >> 4) << 6);
                packed[j] |= (byte)((lm >> 4) << 6);
            }
        }
    }
}
