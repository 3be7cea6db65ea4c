namespace LlmEngine.Kernels.Tokenizers.Unicode;

/// <summary>Hangul syllables decompose into and compose from their jamo by arithmetic
/// (Unicode 15.1, section 3.12), so the tables leave them out.</summary>
internal static class Hangul
{
    private const int SBase = 0xAC00, LBase = 0x1100, VBase = 0x1161, TBase = 0x11A7;
    private const int LCount = 19, VCount = 21, TCount = 28, NCount = VCount * TCount, SCount = LCount * NCount;

    public static bool TryDecompose(int cp, List<int> into)
    {
        int s = cp - SBase;
        if ((uint)s >= SCount) return false;
        into.Add(LBase + s / NCount);
        into.Add(VBase + s % NCount / TCount);
        if (s % TCount != 0) into.Add(TBase + s % TCount);
        return true;
    }

    /// <summary>L + V gives an LV syllable; LV + T gives an LVT syllable.</summary>
    public static bool TryCompose(int first, int second, out int composed)
    {
        int l = first - LBase, v = second - VBase, s = first - SBase, t = second - TBase;
        if ((uint)l < LCount && (uint)v < VCount)
        {
            composed = SBase + (l * VCount + v) * TCount;
            return true;
        }
        if ((uint)s < SCount && s % TCount == 0 && t > 0 && t < TCount)
        {
            composed = first + t;
            return true;
        }
        composed = 0;
        return false;
    }
}
