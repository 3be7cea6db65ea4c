using static LlmEngine.Kernels.Structured.GrammarExpr;

namespace LlmEngine.Kernels.Structured;

/// <summary>
/// JSON's lexical pieces as inline expressions (no rules, so they stay inside the frame of the
/// value that contains them), and the any-value rules. Whitespace between tokens is bounded
/// (<see cref="MaxWhitespace"/> characters) so that a model cannot stall in it forever; numbers
/// are bounded to what a double holds exactly enough to round-trip (16 digits, 2-digit exponents).
/// </summary>
internal static class JsonPieces
{
    public const int MaxWhitespace = 12;

    public static readonly GrammarExpr Ws = new RepeatExpr(CharClass.Of((' ', ' '), ('\t', '\t'), ('\n', '\n'), ('\r', '\r')).ToExpr(), 0, MaxWhitespace);

    private static readonly GrammarExpr Digit = Bytes((byte)'0', (byte)'9');
    private static readonly GrammarExpr Hex = CharClass.Of(('0', '9'), ('a', 'f'), ('A', 'F')).ToExpr();

    /// <summary>One character of a string's content: unescaped (not a quote, backslash or control
    /// character), or an escape; \u escapes of lone surrogates are excluded.</summary>
    public static readonly GrammarExpr StringChar = Alt(
        CharClass.Not(('"', '"'), ('\\', '\\'), (0, 0x1F)).ToExpr(),
        Seq(Literal("\\"), Alt(
            CharClass.Of(('"', '"'), ('\\', '\\'), ('/', '/'), ('b', 'b'), ('f', 'f'), ('n', 'n'), ('r', 'r'), ('t', 't')).ToExpr(),
            Seq(Literal("u"), Alt(
                Seq(CharClass.Of(('0', '9'), ('a', 'c'), ('A', 'C'), ('e', 'f'), ('E', 'F')).ToExpr(), Hex, Hex, Hex),
                Seq(CharClass.Of(('d', 'd'), ('D', 'D')).ToExpr(), Bytes((byte)'0', (byte)'7'), Hex, Hex))))));

    public static GrammarExpr String(int minLength = 0, int? maxLength = null) =>
        Seq(Literal("\""), new RepeatExpr(StringChar, minLength, maxLength), Literal("\""));

    /// <summary>A string whose content matches <paramref name="content"/> (a pattern's expression).</summary>
    public static GrammarExpr String(GrammarExpr content) => Seq(Literal("\""), content, Literal("\""));

    private static readonly GrammarExpr IntegerDigits =
        Alt(Literal("0"), Seq(Bytes((byte)'1', (byte)'9'), new RepeatExpr(Digit, 0, 15)));

    public static readonly GrammarExpr Integer = Seq(Optional(Literal("-")), IntegerDigits);

    public static readonly GrammarExpr Number = Seq(Integer,
        Optional(Seq(Literal("."), new RepeatExpr(Digit, 1, 16))),
        Optional(Seq(CharClass.Of(('e', 'e'), ('E', 'E')).ToExpr(), Optional(CharClass.Of(('+', '+'), ('-', '-')).ToExpr()), new RepeatExpr(Digit, 1, 2))));

    public static readonly GrammarExpr Boolean = Alt(Literal("true"), Literal("false"));
    public static readonly GrammarExpr Null = Literal("null");

    public const string ValueRule = "json_value", ObjectRule = "json_object", ArrayRule = "json_array";

    /// <summary>Adds the rules of any JSON value to <paramref name="rules"/>.</summary>
    public static void AddAnyValue(IDictionary<string, GrammarExpr> rules)
    {
        if (rules.ContainsKey(ValueRule)) return;
        var value = new RuleRef(ValueRule);
        var member = Seq(String(), Ws, Literal(":"), Ws, value);
        rules[ValueRule] = Alt(new RuleRef(ObjectRule), new RuleRef(ArrayRule), String(), Number, Boolean, Null);
        rules[ObjectRule] = Seq(Literal("{"), Ws, Optional(Seq(member, Star(Seq(Ws, Literal(","), Ws, member)), Ws)), Literal("}"));
        rules[ArrayRule] = Seq(Literal("["), Ws, Optional(Seq(value, Star(Seq(Ws, Literal(","), Ws, value)), Ws)), Literal("]"));
    }

    /// <summary>Any JSON object (OpenAI's json_object), with whitespace around it.</summary>
    public static Grammar AnyObject()
    {
        var rules = new Dictionary<string, GrammarExpr>();
        AddAnyValue(rules);
        rules["root"] = Seq(Ws, new RuleRef(ObjectRule), Ws);
        return new Grammar(rules, "root");
    }
}
