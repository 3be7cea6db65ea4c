using System.Text;

namespace LlmEngine.Kernels.Tokenizers.Unicode;

/// <summary>
/// The four Unicode normalization forms (UAX #15), as Hugging Face tokenizers applies them
/// (Qwen's tokenizer.json asks for NFC). Written here because the engine runs with invariant
/// globalization, where <see cref="string.Normalize()"/> leaves non-ASCII text unchanged; the tables
/// (normalization.txt, Unicode 15.1) come from scripts/unicode-normalization-table.py.
/// <code>
///   text ─► decompose (canonical, or compatibility for K forms; Hangul by arithmetic)
///        ─► sort each run of non-starters by combining class (stable)
///        ─► compose (C forms): each mark joins the last starter unless a mark of an equal
///           or higher class, or a starter, stands between them
/// </code>
/// Unpaired surrogates pass through as they are.
/// </summary>
internal static class UnicodeNormalizer
{
    public static string Normalize(string text, NormalizationForm form)
    {
        if (IsAscii(text)) return text;   // ASCII is the same in every form
        bool compatibility = form is NormalizationForm.FormKC or NormalizationForm.FormKD;
        bool compose = form is NormalizationForm.FormC or NormalizationForm.FormKC;
        var points = Decompose(text, compatibility);
        SortMarks(points);
        if (compose) Compose(points);
        var result = new StringBuilder(points.Count + 8);
        foreach (int cp in points)
        {
            if (cp < 0x10000) result.Append((char)cp);
            else result.Append(char.ConvertFromUtf32(cp));
        }
        return result.ToString();
    }

    private static bool IsAscii(string text)
    {
        foreach (char c in text)
            if (c >= 0x80) return false;
        return true;
    }

    private static List<int> Decompose(string text, bool compatibility)
    {
        var tables = UnicodeTables.Instance;
        var points = new List<int>(text.Length + 8);
        for (int i = 0; i < text.Length; i++)
        {
            int cp = text[i];
            if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
                cp = char.ConvertToUtf32(text[i], text[++i]);
            if (Hangul.TryDecompose(cp, points)) continue;
            if ((compatibility ? tables.CompatibilityDecomposition : tables.CanonicalDecomposition).TryGetValue(cp, out var parts))
                points.AddRange(parts);
            else
                points.Add(cp);
        }
        return points;
    }

    /// <summary>Canonical ordering: a stable insertion sort of each run of non-starters by class.</summary>
    private static void SortMarks(List<int> points)
    {
        var tables = UnicodeTables.Instance;
        for (int i = 1; i < points.Count; i++)
        {
            int cp = points[i];
            int cc = tables.CombiningClass(cp);
            if (cc == 0) continue;
            int j = i;
            while (j > 0 && tables.CombiningClass(points[j - 1]) > cc)
            {
                points[j] = points[j - 1];
                j--;
            }
            points[j] = cp;
        }
    }

    /// <summary>Canonical composition in place over canonically ordered code points. Between the last
    /// starter and the current character stand only marks (a starter that does not compose becomes
    /// the new last starter), in non-decreasing class order, so only the last one can block.</summary>
    private static void Compose(List<int> points)
    {
        var tables = UnicodeTables.Instance;
        int starter = -1, lastClass = 0, kept = 0;
        for (int i = 0; i < points.Count; i++)
        {
            int cp = points[i];
            int cc = tables.CombiningClass(cp);
            bool adjacent = starter == kept - 1;
            if (starter >= 0 && (adjacent || lastClass < cc) && TryCompose(tables, points[starter], cp, out int composed))
            {
                points[starter] = composed;
                continue;
            }
            if (cc == 0) starter = kept;
            lastClass = cc;
            points[kept++] = cp;
        }
        points.RemoveRange(kept, points.Count - kept);
    }

    private static bool TryCompose(UnicodeTables tables, int first, int second, out int composed) =>
        Hangul.TryCompose(first, second, out composed) || tables.Compositions.TryGetValue(((long)first << 21) | (uint)second, out composed);
}
