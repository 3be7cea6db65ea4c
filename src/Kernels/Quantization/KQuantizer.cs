namespace LlmEngine.Kernels.Quantization;

/// <summary>ggml's reference K-quant quantizers (Q4_K, Q5_K, Q6_K without an importance matrix), step for
/// step, so their output matches llama-quantize's byte for byte. Each super-block of 256 elements gets
/// per-sub-block scales (and mins) fitted by a small weighted least-squares search, then quantized to
/// 6 (or 8) bits against one float16 super-scale; the elements are then re-rounded against the scales
/// actually stored.</summary>
internal static class KQuantizer
{
    private const int QK = GgmlTypeInfo.QK_K;

    public static void Q4_K(ReadOnlySpan<float> x, Span<BlockQ4_K> blocks)
    {
        Span<byte> levels = stackalloc byte[QK];
        for (int b = 0; b < blocks.Length; b++)
        {
            var v = x.Slice(b * QK, QK);
            ref var block = ref blocks[b];
            (block.D, block.DMin) = FitScalesAndMins(v, 15, -1f, 0.1f, 20, block.Scales, levels);
            Requantize(v, block.D, block.DMin, block.Scales, 15, levels);
            for (int j = 0; j < 4; j++)
                for (int l = 0; l < 32; l++)
                    block.Qs[32 * j + l] = (byte)(levels[64 * j + l] | (levels[64 * j + l + 32] << 4));
        }
    }

    public static void Q5_K(ReadOnlySpan<float> x, Span<BlockQ5_K> blocks)
    {
        Span<byte> levels = stackalloc byte[QK];
        for (int b = 0; b < blocks.Length; b++)
        {
            var v = x.Slice(b * QK, QK);
            ref var block = ref blocks[b];
            (block.D, block.DMin) = FitScalesAndMins(v, 31, -0.5f, 0.1f, 15, block.Scales, levels);
            Requantize(v, block.D, block.DMin, block.Scales, 31, levels);
            Span<byte> qh = block.Qh;
            qh.Clear();
            for (int j = 0; j < 4; j++)
            {
                byte m1 = (byte)(1 << (2 * j)), m2 = (byte)(2 << (2 * j));
                for (int l = 0; l < 32; l++)
                {
                    int l1 = levels[64 * j + l], l2 = levels[64 * j + l + 32];
                    if (l1 > 15) { l1 -= 16; qh[l] |= m1; }
                    if (l2 > 15) { l2 -= 16; qh[l] |= m2; }
                    block.Qs[32 * j + l] = (byte)(l1 | (l2 << 4));
                }
            }
        }
    }

    public static void Q6_K(ReadOnlySpan<float> x, Span<BlockQ6_K> blocks)
    {
        Span<byte> levels = stackalloc byte[QK];
        Span<float> scales = stackalloc float[QK / 16];
        for (int b = 0; b < blocks.Length; b++)
        {
            var v = x.Slice(b * QK, QK);
            ref var block = ref blocks[b];
            float maxScale = 0, maxAbsScale = 0;
            for (int s = 0; s < QK / 16; s++)
            {
                float scale = SymmetricScale(v.Slice(16 * s, 16), 32, levels.Slice(16 * s, 16));
                scales[s] = scale;
                if (MathF.Abs(scale) > maxAbsScale)
                {
                    maxAbsScale = MathF.Abs(scale);
                    maxScale = scale;
                }
            }
            if (maxAbsScale < GroupMaxEps)
            {
                block = default;
                continue;
            }
            float iscale = -128f / maxScale;
            block.D = (Half)(1 / iscale);
            for (int s = 0; s < QK / 16; s++) block.Scales[s] = (sbyte)Math.Min(127, NearestInt(iscale * scales[s]));
            for (int s = 0; s < QK / 16; s++)
            {
                float d = (float)block.D * block.Scales[s];
                if (d == 0) continue;
                for (int i = 0; i < 16; i++)
                    levels[16 * s + i] = (byte)(Math.Clamp(NearestInt(v[16 * s + i] / d), -32, 31) + 32);
            }
            for (int half = 0; half < 2; half++)
            {
                var l0 = levels.Slice(128 * half, 128);
                for (int l = 0; l < 32; l++)
                {
                    block.Ql[64 * half + l] = (byte)((l0[l] & 0xF) | ((l0[l + 64] & 0xF) << 4));
                    block.Ql[64 * half + l + 32] = (byte)((l0[l + 32] & 0xF) | ((l0[l + 96] & 0xF) << 4));
                    block.Qh[32 * half + l] = (byte)((l0[l] >> 4) | ((l0[l + 32] >> 4) << 2) | ((l0[l + 64] >> 4) << 4) | ((l0[l + 96] >> 4) << 6));
                }
            }
        }
    }

    private const float GroupMaxEps = 1e-15f;

    /// <summary>Fits a scale and min to each 32-element sub-block, packs them as 6-bit fractions of the
    /// largest, and returns the two float16 super-scales (Q4_K and Q5_K share this). The fit's levels
    /// stay in <paramref name="levels"/> for sub-blocks whose stored scale is zero.</summary>
    private static (Half D, Half DMin) FitScalesAndMins(ReadOnlySpan<float> v, int nmax, float rmin, float rdelta, int nstep, Span<byte> packed, Span<byte> levels)
    {
        Span<float> scales = stackalloc float[8], mins = stackalloc float[8], weights = stackalloc float[32];
        Span<byte> scratch = stackalloc byte[32];
        float maxScale = 0, maxMin = 0;
        for (int j = 0; j < 8; j++)
        {
            var sub = v.Slice(32 * j, 32);
            float sumX2 = 0;
            for (int l = 0; l < 32; l++) sumX2 += sub[l] * sub[l];
            float avX = MathF.Sqrt(sumX2 / 32);
            for (int l = 0; l < 32; l++) weights[l] = avX + MathF.Abs(sub[l]);
            scales[j] = AffineScale(sub, weights, nmax, rmin, rdelta, nstep, levels.Slice(32 * j, 32), scratch, out mins[j]);
            if (scales[j] > maxScale) maxScale = scales[j];
            if (mins[j] > maxMin) maxMin = mins[j];
        }
        float invScale = maxScale > 0 ? 63f / maxScale : 0f;
        float invMin = maxMin > 0 ? 63f / maxMin : 0f;
        Span<byte> ls = stackalloc byte[8], lm = stackalloc byte[8];
        for (int j = 0; j < 8; j++)
        {
            ls[j] = Math.Min((byte)63, (byte)NearestInt(invScale * scales[j]));
            lm[j] = Math.Min((byte)63, (byte)NearestInt(invMin * mins[j]));
        }
        KQuantScales.Pack(ls, lm, packed);
        return ((Half)(maxScale / 63f), (Half)(maxMin / 63f));
    }

    /// <summary>Levels of every element against the scales and mins as stored.</summary>
    private static void Requantize(ReadOnlySpan<float> v, Half superScale, Half superMin, ReadOnlySpan<byte> packed, int nmax, Span<byte> levels)
    {
        for (int j = 0; j < 8; j++)
        {
            var (sc, m) = KQuantScales.Get(j, packed);
            float d = (float)superScale * sc;
            if (d == 0) continue;
            float dm = (float)superMin * m;
            for (int i = 0; i < 32; i++)
                levels[32 * j + i] = (byte)Math.Clamp(NearestInt((v[32 * j + i] + dm) / d), 0, nmax);
        }
    }

    /// <summary>ggml's make_qkx2_quants: x ≈ scale * L - min with L in [0, nmax], searching nstep + 1
    /// candidate scales around nmax / (max - min) for the least weighted squared error.</summary>
    private static float AffineScale(ReadOnlySpan<float> x, ReadOnlySpan<float> w, int nmax, float rmin, float rdelta, int nstep,
        Span<byte> levels, Span<byte> trial, out float theMin)
    {
        int n = x.Length;
        float min = x[0], max = x[0], sumW = w[0], sumX = sumW * x[0];
        for (int i = 1; i < n; i++)
        {
            if (x[i] < min) min = x[i];
            if (x[i] > max) max = x[i];
            sumW += w[i];
            sumX += w[i] * x[i];
        }
        if (min > 0) min = 0;
        if (max == min)
        {
            levels.Clear();
            theMin = -min;
            return 0f;
        }
        float iscale = nmax / (max - min);
        float scale = 1 / iscale;
        float bestError = 0;
        for (int i = 0; i < n; i++)
        {
            levels[i] = (byte)Math.Clamp(NearestInt(iscale * (x[i] - min)), 0, nmax);
            float diff = scale * levels[i] + min - x[i];
            bestError += w[i] * (diff * diff);
        }
        for (int step = 0; step <= nstep; step++)
        {
            iscale = (rmin + rdelta * step + nmax) / (max - min);
            float sumL = 0, sumL2 = 0, sumXL = 0;
            for (int i = 0; i < n; i++)
            {
                int l = Math.Clamp(NearestInt(iscale * (x[i] - min)), 0, nmax);
                trial[i] = (byte)l;
                sumL += w[i] * l;
                sumL2 += w[i] * l * l;
                sumXL += w[i] * l * x[i];
            }
            float det = sumW * sumL2 - sumL * sumL;
            if (det <= 0) continue;
            float thisScale = (sumW * sumXL - sumX * sumL) / det;
            float thisMin = (sumL2 * sumX - sumL * sumXL) / det;
            if (thisMin > 0)
            {
                thisMin = 0;
                thisScale = sumXL / sumL2;
            }
            float error = 0;
            for (int i = 0; i < n; i++)
            {
                float diff = thisScale * trial[i] + thisMin - x[i];
                error += w[i] * (diff * diff);
            }
            if (error < bestError)
            {
                trial[..n].CopyTo(levels);
                bestError = error;
                scale = thisScale;
                min = thisMin;
            }
        }
        theMin = -min;
        return scale;
    }

    /// <summary>ggml's make_qx_quants with rmse_type 1 (weights x²): x ≈ scale * (L - nmax), L in
    /// [0, 2 nmax), trying 19 scales around -nmax / max.</summary>
    private static float SymmetricScale(ReadOnlySpan<float> x, int nmax, Span<byte> levels)
    {
        int n = x.Length;
        float max = 0, amax = 0;
        for (int i = 0; i < n; i++)
        {
            float ax = MathF.Abs(x[i]);
            if (ax > amax) { amax = ax; max = x[i]; }
        }
        if (amax < GroupMaxEps)
        {
            levels[..n].Clear();
            return 0f;
        }
        float iscale = -nmax / max;
        float sumLX = 0, sumL2 = 0;
        for (int i = 0; i < n; i++)
        {
            int l = Math.Clamp(NearestInt(iscale * x[i]), -nmax, nmax - 1);
            levels[i] = (byte)(l + nmax);
            float w = x[i] * x[i];
            sumLX += w * x[i] * l;
            sumL2 += w * l * l;
        }
        float scale = sumL2 != 0 ? sumLX / sumL2 : 0.0f;
        float best = scale * sumLX;
        for (int step = -9; step <= 9; step++)
        {
            if (step == 0) continue;
            iscale = -(nmax + 0.1f * step) / max;
            sumLX = sumL2 = 0;
            for (int i = 0; i < n; i++)
            {
                int l = Math.Clamp(NearestInt(iscale * x[i]), -nmax, nmax - 1);
                float w = x[i] * x[i];
                sumLX += w * x[i] * l;
                sumL2 += w * l * l;
            }
            if (sumL2 > 0 && sumLX * sumLX > best * sumL2)
            {
                for (int i = 0; i < n; i++)
                    levels[i] = (byte)(nmax + Math.Clamp(NearestInt(iscale * x[i]), -nmax, nmax - 1));
                scale = sumLX / sumL2;
                best = scale * sumLX;
            }
        }
        return scale;
    }

    /// <summary>ggml's nearest_int: round half to even through the float mantissa, valid for |x| &lt; 2^22.</summary>
    private static int NearestInt(float f)
    {
        float biased = f + 12582912f;
        return (BitConverter.SingleToInt32Bits(biased) & 0x007fffff) - 0x00400000;
    }
}
