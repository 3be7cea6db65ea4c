namespace LlmEngine.Kernels.Structured;

/// <summary>
/// A regular expression (the common syntax of Python's re and JavaScript: alternation, groups
/// incl. (?:...) and named ones, classes, . \d \w \s, quantifiers * + ? {n} {n,} {n,m}, lazy or
/// possessive markers ignored) as a grammar expression matching the whole output. Anchors ^ and
/// $ are accepted at the ends only; lookaround, backreferences and \b are refused.
/// </summary>
internal static class RegexGrammar
{
    public static Grammar Parse(string pattern) => new(new Dictionary<string, GrammarExpr> { ["root"] = Expression(pattern) }, "root");

    /// <summary>The pattern as one expression, to embed in another grammar (a JSON string's pattern).</summary>
    public static GrammarExpr Expression(string pattern)
    {
        var r = new PatternReader(pattern, "regex");
        if (r.PeekIs('^')) r.Position++;
        var expr = Alternation(r);
        if (r.PeekIs('$')) r.Position++;
        if (!r.AtEnd) throw r.Error(r.Peek == ')' ? "unbalanced ')'" : "unexpected character");
        return expr;
    }

    private static GrammarExpr Alternation(PatternReader r)
    {
        var branches = new List<GrammarExpr> { Concatenation(r) };
        while (r.PeekIs('|'))
        {
            r.Position++;
            branches.Add(Concatenation(r));
        }
        return GrammarExpr.Alt(branches.ToArray());
    }

    private static GrammarExpr Concatenation(PatternReader r)
    {
        var items = new List<GrammarExpr>();
        while (!r.AtEnd && r.Peek is not ('|' or ')') && !(r.Peek == '$' && r.Position == r.Length - 1))
            items.Add(Quantified(r, Atom(r)));
        return items.Count == 0 ? GrammarExpr.Empty : GrammarExpr.Seq(items.ToArray());
    }

    private static GrammarExpr Atom(PatternReader r)
    {
        char c = r.Peek;
        switch (c)
        {
            case '(':
                r.Position++;
                if (r.PeekIs("?:")) r.Position += 2;
                else if (r.PeekIs("?P<") || r.PeekIs("?<") && !r.PeekIs("?<=") && !r.PeekIs("?<!"))
                {
                    while (!r.AtEnd && r.Peek != '>') r.Position++;
                    r.Expect('>');
                }
                else if (r.PeekIs('?')) throw r.Error("lookaround and inline flags are not supported");
                var inner = Alternation(r);
                r.Expect(')');
                return inner;
            case '[':
                r.Position++;
                return r.Class().ToExpr();
            case '.':
                r.Position++;
                return CharClass.Not(('\n', '\n')).ToExpr();
            case '\\':
                r.Position++;
                var (cp, cls) = r.Escape();
                return cls?.ToExpr() ?? CharClass.Of((cp, cp)).ToExpr();
            case '*' or '+' or '?' or '{':
                throw r.Error("nothing to repeat");
            case '^':
                throw r.Error("'^' is supported only at the start");
            default:
                int code = r.NextCodePoint();
                return GrammarExpr.Literal(char.ConvertFromUtf32(code));
        }
    }

    internal static GrammarExpr Quantified(PatternReader r, GrammarExpr atom)
    {
        while (!r.AtEnd)
        {
            char c = r.Peek;
            (int Min, int? Max)? q = c switch
            {
                '*' => (0, null),
                '+' => (1, null),
                '?' => (0, 1),
                '{' => Braces(r),
                _ => null,
            };
            if (q is null) return atom;
            if (c != '{') r.Position++;
            atom = new RepeatExpr(atom, q.Value.Min, q.Value.Max);
            if (r.PeekIs('?') || r.PeekIs('+')) r.Position++; // lazy / possessive: same language
        }
        return atom;
    }

    private static (int, int?)? Braces(PatternReader r)
    {
        int start = r.Position;
        r.Position++;
        int? min = Number(r);
        if (min is null) { r.Position = start; throw r.Error("bad repetition"); }
        int? max = min;
        if (r.PeekIs(','))
        {
            r.Position++;
            max = Number(r);
        }
        r.Expect('}');
        if (max < min) throw r.Error($"repetition {{{min},{max}}} out of order");
        return (min.Value, max);
    }

    private static int? Number(PatternReader r)
    {
        int start = r.Position;
        while (!r.AtEnd && char.IsAsciiDigit(r.Peek)) r.Position++;
        if (r.Position == start) return null;
        return int.TryParse(r.Substring(start), out int v) && v <= 100_000 ? v : throw r.Error("repetition count too large");
    }
}
