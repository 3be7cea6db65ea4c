namespace LlmEngine.Host.Chat;

/// <summary>Expression nodes; <c>Line</c> is kept for runtime error messages.</summary>
internal abstract record Expr(int Line);

internal sealed record ConstExpr(object? Value, int Line) : Expr(Line);

internal sealed record NameExpr(string Name, int Line) : Expr(Line);

/// <summary><c>a.b</c>: attribute first, then item (how Jinja's sandbox resolves it).</summary>
internal sealed record GetAttrExpr(Expr Target, string Name, int Line) : Expr(Line);

/// <summary><c>a[b]</c>: item first, then attribute.</summary>
internal sealed record GetItemExpr(Expr Target, Expr Key, int Line) : Expr(Line);

internal sealed record SliceExpr(Expr? Start, Expr? Stop, Expr? Step, int Line) : Expr(Line);

internal sealed record ListExpr(IReadOnlyList<Expr> Items, bool IsTuple, int Line) : Expr(Line);

internal sealed record DictExpr(IReadOnlyList<(Expr Key, Expr Value)> Pairs, int Line) : Expr(Line);

internal enum UnaryOp { Neg, Pos, Not }

internal sealed record UnaryExpr(UnaryOp Op, Expr Operand, int Line) : Expr(Line);

internal enum BinaryOp { Add, Sub, Mul, Div, FloorDiv, Mod, Pow, And, Or }

internal sealed record BinaryExpr(BinaryOp Op, Expr Left, Expr Right, int Line) : Expr(Line);

/// <summary><c>a ~ b ~ c</c>: str() of each part, joined.</summary>
internal sealed record ConcatExpr(IReadOnlyList<Expr> Parts, int Line) : Expr(Line);

internal enum CompareOp { Eq, Ne, Lt, LtEq, Gt, GtEq, In, NotIn }

/// <summary>Chained comparison as in Python: <c>a &lt; b &lt; c</c>.</summary>
internal sealed record CompareExpr(Expr First, IReadOnlyList<(CompareOp Op, Expr Operand)> Rest, int Line) : Expr(Line);

/// <summary><c>a if test else b</c>; without <c>else</c> a false test yields undefined.</summary>
internal sealed record CondExpr(Expr Test, Expr Then, Expr? Else, int Line) : Expr(Line);

internal sealed record Arguments(
    IReadOnlyList<Expr> Positional,
    IReadOnlyList<(string Name, Expr Value)> Keywords,
    Expr? Spread,
    Expr? KeywordSpread)
{
    public static readonly Arguments None = new([], [], null, null);
}

internal sealed record CallExpr(Expr Callee, Arguments Args, int Line) : Expr(Line);

/// <summary><c>input | name(args)</c>; <c>Input</c> is null at the head of a filter block's chain.</summary>
internal sealed record FilterExpr(Expr? Input, string Name, Arguments Args, int Line) : Expr(Line);

internal sealed record TestExpr(Expr Input, string Name, Arguments Args, int Line) : Expr(Line);
