using System.Text;

namespace LlmEngine.Kernels.Structured;

/// <summary>A grammar expression over bytes, the common form every constraint (JSON Schema,
/// regex, choice, GBNF) is translated into before it becomes an automaton.</summary>
public abstract record GrammarExpr
{
    public static readonly GrammarExpr Empty = new SeqExpr([]);

    /// <summary>The UTF-8 bytes of <paramref name="text"/>, in order.</summary>
    public static GrammarExpr Literal(string text) =>
        Seq(Encoding.UTF8.GetBytes(text).Select(b => (GrammarExpr)new ByteExpr(ByteClass.Of(b))).ToArray());

    public static GrammarExpr Seq(params GrammarExpr[] items) => items.Length == 1 ? items[0] : new SeqExpr(items);

    public static GrammarExpr Alt(params GrammarExpr[] items) => items.Length == 1 ? items[0] : new AltExpr(items);

    public static GrammarExpr Optional(GrammarExpr e) => new RepeatExpr(e, 0, 1);

    public static GrammarExpr Star(GrammarExpr e) => new RepeatExpr(e, 0, null);

    public static GrammarExpr Bytes(byte lo, byte hi) => new ByteExpr(ByteClass.Range(lo, hi));
}

/// <summary>One byte of the class.</summary>
internal sealed record ByteExpr(ByteClass Class) : GrammarExpr;

internal sealed record SeqExpr(GrammarExpr[] Items) : GrammarExpr;

internal sealed record AltExpr(GrammarExpr[] Items) : GrammarExpr;

/// <summary><paramref name="Min"/> to <paramref name="Max"/> repetitions (null: unbounded).</summary>
internal sealed record RepeatExpr(GrammarExpr Item, int Min, int? Max) : GrammarExpr;

/// <summary>A use of another rule of the grammar (the only way to recurse).</summary>
internal sealed record RuleRef(string Name) : GrammarExpr;

/// <summary>Named rules and the one to start from.</summary>
public sealed record Grammar(IReadOnlyDictionary<string, GrammarExpr> Rules, string Root);

/// <summary>A constraint that cannot be compiled (bad syntax, unsupported feature); the message
/// says what and where, for a 400.</summary>
public sealed class GrammarException(string message) : Exception(message);
