namespace LlmEngine.Kernels.Structured;

/// <summary>
/// A context-free grammar in llama.cpp's GBNF: <c>name ::= alternatives</c> rules, "literals",
/// [classes], <c>.</c>, (groups), rule references, quantifiers * + ? {m} {m,} {m,n}, # comments.
/// The start rule is <c>root</c>. A rule runs until the next <c>name ::=</c>, so alternatives
/// may continue over lines. Left recursion is refused when compiled.
/// </summary>
internal static class GbnfGrammar
{
    public static Grammar Parse(string source)
    {
        var r = new PatternReader(source, "grammar");
        var rules = new Dictionary<string, GrammarExpr>();
        Skip(r);
        while (!r.AtEnd)
        {
            string name = Name(r) ?? throw r.Error("expected a rule name");
            Skip(r);
            if (!r.PeekIs("::=")) throw r.Error($"expected '::=' after rule name '{name}'");
            r.Position += 3;
            if (rules.ContainsKey(name)) throw r.Error($"rule '{name}' is defined twice");
            rules[name] = Alternation(r);
            Skip(r);
        }
        if (!rules.ContainsKey("root")) throw new GrammarException("grammar: no 'root' rule");
        foreach (var used in rules.Values.SelectMany(References))
            if (!rules.ContainsKey(used)) throw new GrammarException($"grammar: undefined rule '{used}'");
        return new Grammar(rules, "root");
    }

    private static GrammarExpr Alternation(PatternReader r)
    {
        var branches = new List<GrammarExpr> { Sequence(r) };
        while (r.PeekIs('|'))
        {
            r.Position++;
            branches.Add(Sequence(r));
        }
        return GrammarExpr.Alt(branches.ToArray());
    }

    private static GrammarExpr Sequence(PatternReader r)
    {
        var items = new List<GrammarExpr>();
        while (true)
        {
            Skip(r);
            if (r.AtEnd || r.Peek is '|' or ')' || StartsRule(r)) break;
            items.Add(RegexGrammar.Quantified(r, Item(r)));
        }
        return items.Count == 0 ? GrammarExpr.Empty : GrammarExpr.Seq(items.ToArray());
    }

    private static GrammarExpr Item(PatternReader r)
    {
        switch (r.Peek)
        {
            case '"':
                r.Position++;
                var text = new System.Text.StringBuilder();
                while (!r.PeekIs('"'))
                {
                    if (r.AtEnd) throw r.Error("unterminated string literal");
                    int cp;
                    if (r.PeekIs('\\'))
                    {
                        r.Position++;
                        var (code, cls) = r.Escape();
                        if (cls is not null) throw r.Error("a class escape inside a literal");
                        cp = code;
                    }
                    else cp = r.NextCodePoint();
                    text.Append(char.ConvertFromUtf32(cp));
                }
                r.Position++;
                return GrammarExpr.Literal(text.ToString());
            case '[':
                r.Position++;
                return r.Class().ToExpr();
            case '.':
                r.Position++;
                return CharClass.Not().ToExpr();
            case '(':
                r.Position++;
                var inner = Alternation(r);
                Skip(r);
                r.Expect(')');
                return inner;
            default:
                return new RuleRef(Name(r) ?? throw r.Error("unexpected character"));
        }
    }

    private static string? Name(PatternReader r)
    {
        int start = r.Position;
        while (!r.AtEnd && (char.IsAsciiLetterOrDigit(r.Peek) || r.Peek is '-' or '_')) r.Position++;
        return r.Position > start ? r.Substring(start) : null;
    }

    private static bool StartsRule(PatternReader r)
    {
        int at = r.Position;
        bool rule = Name(r) is not null && SkipThen(r, "::=");
        r.Position = at;
        return rule;
    }

    private static bool SkipThen(PatternReader r, string s)
    {
        Skip(r);
        return r.PeekIs(s);
    }

    private static void Skip(PatternReader r)
    {
        while (!r.AtEnd)
        {
            if (char.IsWhiteSpace(r.Peek)) r.Position++;
            else if (r.Peek == '#') while (!r.AtEnd && r.Peek != '\n') r.Position++;
            else return;
        }
    }

    private static IEnumerable<string> References(GrammarExpr e) => e switch
    {
        RuleRef r => [r.Name],
        SeqExpr s => s.Items.SelectMany(References),
        AltExpr a => a.Items.SelectMany(References),
        RepeatExpr q => References(q.Item),
        _ => [],
    };
}
