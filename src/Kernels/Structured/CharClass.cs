using System.Text;

namespace LlmEngine.Kernels.Structured;

/// <summary>
/// A set of characters (code point ranges, possibly negated) as regex and GBNF write them,
/// compiled to bytes: the ASCII part is one byte class; non-ASCII members become their UTF-8
/// sequences. A negated class admits every well-formed non-ASCII character (it cannot exclude
/// particular ones), which is what JSON strings and "any character" need.
/// </summary>
internal sealed class CharClass
{
    private const int MaxEnumerated = 2048;
    private readonly List<(int Lo, int Hi)> _ranges = new();

    public bool Negated { get; init; }

    public CharClass Add(int lo, int hi)
    {
        if (hi < lo) throw new GrammarException($"character range out of order: {Show(lo)}-{Show(hi)}");
        _ranges.Add((lo, hi));
        return this;
    }

    public CharClass AddAll(CharClass other)
    {
        if (other.Negated) throw new GrammarException("a negated class cannot be nested in another class");
        _ranges.AddRange(other._ranges);
        return this;
    }

    public static CharClass Of(params (int Lo, int Hi)[] ranges)
    {
        var c = new CharClass();
        foreach (var (lo, hi) in ranges) c.Add(lo, hi);
        return c;
    }

    /// <summary>Every character except the given ones (e.g. <c>.</c> is all but newline).</summary>
    public static CharClass Not(params (int Lo, int Hi)[] ranges)
    {
        var c = new CharClass { Negated = true };
        foreach (var (lo, hi) in ranges) c.Add(lo, hi);
        return c;
    }

    public GrammarExpr ToExpr()
    {
        var ascii = new ByteClass();
        foreach (var (lo, hi) in _ranges.Where(r => r.Lo <= 0x7F))
            ascii = ascii.Union(ByteClass.Range((byte)lo, (byte)Math.Min(hi, 0x7F)));
        if (Negated) return GrammarExpr.Alt(new ByteExpr(ByteClass.Ascii.Except(ascii)), AnyNonAscii);
        var wide = _ranges.Where(r => r.Hi > 0x7F).Select(r => (Lo: Math.Max(r.Lo, 0x80), r.Hi)).ToList();
        if (wide.Count == 0) return new ByteExpr(ascii);
        if (wide.Sum(r => (long)r.Hi - r.Lo + 1) > MaxEnumerated)
            throw new GrammarException($"character ranges beyond ASCII are limited to {MaxEnumerated} characters");
        var items = new List<GrammarExpr>();
        if (!ascii.IsEmpty) items.Add(new ByteExpr(ascii));
        foreach (var (lo, hi) in wide)
            for (int cp = lo; cp <= hi; cp++)
                if (cp is < 0xD800 or > 0xDFFF) items.Add(GrammarExpr.Literal(char.ConvertFromUtf32(cp)));
        return GrammarExpr.Alt(items.ToArray());
    }

    /// <summary>A well-formed UTF-8 sequence of 2 to 4 bytes (RFC 3629: no overlong forms, no
    /// surrogates, nothing past U+10FFFF), so that every allowed text decodes without U+FFFD.</summary>
    public static readonly GrammarExpr AnyNonAscii = GrammarExpr.Alt(
        Utf8(0xC2, 0xDF, 0x80, 0xBF, 1),
        Utf8(0xE0, 0xE0, 0xA0, 0xBF, 2),
        Utf8(0xE1, 0xEC, 0x80, 0xBF, 2),
        Utf8(0xED, 0xED, 0x80, 0x9F, 2),
        Utf8(0xEE, 0xEF, 0x80, 0xBF, 2),
        Utf8(0xF0, 0xF0, 0x90, 0xBF, 3),
        Utf8(0xF1, 0xF3, 0x80, 0xBF, 3),
        Utf8(0xF4, 0xF4, 0x80, 0x8F, 3));

    // A lead byte range, the second byte's range, then continuation bytes up to the length.
    private static GrammarExpr Utf8(byte lead, byte leadHi, byte second, byte secondHi, int continuations) =>
        GrammarExpr.Seq([GrammarExpr.Bytes(lead, leadHi), GrammarExpr.Bytes(second, secondHi),
            .. Enumerable.Repeat(GrammarExpr.Bytes(0x80, 0xBF), continuations - 1)]);

    private static string Show(int cp) => cp < 0x20 ? $"\\x{cp:X2}" : char.ConvertFromUtf32(cp);
}
