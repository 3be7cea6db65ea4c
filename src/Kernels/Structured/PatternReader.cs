using System.Globalization;

namespace LlmEngine.Kernels.Structured;

/// <summary>A cursor over constraint source text with the pieces regex and GBNF share: escapes
/// and bracketed character classes. Errors name the position.</summary>
internal sealed class PatternReader(string text, string what)
{
    public int Position { get; set; }
    public int Length => text.Length;
    public string Substring(int start) => text[start..Position];
    public bool AtEnd => Position >= text.Length;
    public char Peek => text[Position];
    public bool PeekIs(char c) => Position < text.Length && text[Position] == c;
    public bool PeekIs(string s) => string.CompareOrdinal(text, Position, s, 0, s.Length) == 0;

    public int NextCodePoint()
    {
        int cp = char.ConvertToUtf32(text, Position);
        Position += char.IsSurrogatePair(text, Position) ? 2 : 1;
        return cp;
    }

    public void Expect(char c)
    {
        if (!PeekIs(c)) throw Error($"expected '{c}'");
        Position++;
    }

    public GrammarException Error(string message) =>
        new($"{what}: {message} at position {Position}{(AtEnd ? " (end)" : $" near '{text.Substring(Position, Math.Min(12, text.Length - Position))}'")}");

    /// <summary>After a backslash: a single code point, or a class for \d \w \s and their negations.</summary>
    public (int CodePoint, CharClass? Class) Escape()
    {
        if (AtEnd) throw Error("dangling backslash");
        char c = text[Position++];
        return c switch
        {
            'n' => ('\n', null), 't' => ('\t', null), 'r' => ('\r', null), 'f' => ('\f', null), 'v' => ('\v', null), '0' => (0, null),
            'x' => (Hex(2), null),
            'u' => (Hex(4), null),
            'U' => (Hex(8), null),
            'd' => (0, Digits()), 'D' => (0, CharClass.Not(('0', '9'))),
            'w' => (0, Word()), 'W' => (0, CharClass.Not(('0', '9'), ('A', 'Z'), ('a', 'z'), ('_', '_'))),
            's' => (0, Space()), 'S' => (0, CharClass.Not((' ', ' '), ('\t', '\r'))),
            >= '1' and <= '9' => throw Error("backreferences are not supported"),
            'b' or 'B' or 'A' or 'z' or 'Z' => throw Error($"\\{c} (an assertion) is not supported"),
            _ when char.IsAsciiLetterOrDigit(c) => throw Error($"unknown escape \\{c}"),
            _ => (c, null),
        };
    }

    /// <summary>After '[': members up to the closing ']'.</summary>
    public CharClass Class()
    {
        var result = new CharClass { Negated = PeekIs('^') };
        if (result.Negated) Position++;
        bool first = true;
        while (true)
        {
            if (AtEnd) throw Error("unterminated character class");
            if (PeekIs(']') && !first) { Position++; return result; }
            first = false;
            var (lo, cls) = Member();
            if (cls is not null) { result.AddAll(cls); continue; }
            if (PeekIs('-') && Position + 1 < text.Length && text[Position + 1] != ']')
            {
                Position++;
                var (hi, hiClass) = Member();
                if (hiClass is not null) throw Error("a class cannot end a range");
                result.Add(lo, hi);
            }
            else result.Add(lo, lo);
        }
    }

    private (int, CharClass?) Member()
    {
        if (PeekIs('\\')) { Position++; return Escape(); }
        return (NextCodePoint(), null);
    }

    private int Hex(int digits)
    {
        if (Position + digits > text.Length || !int.TryParse(text.AsSpan(Position, digits), NumberStyles.HexNumber, null, out int v))
            throw Error($"expected {digits} hex digits");
        Position += digits;
        return v;
    }

    public static CharClass Digits() => CharClass.Of(('0', '9'));
    public static CharClass Word() => CharClass.Of(('0', '9'), ('A', 'Z'), ('a', 'z'), ('_', '_'));
    public static CharClass Space() => CharClass.Of((' ', ' '), ('\t', '\r'));
}
