namespace LlmEngine.Host.Chat;

/// <summary>Assignment targets of <c>set</c>, <c>for</c> and <c>with</c>.</summary>
internal abstract record Target(int Line);

internal sealed record NameTarget(string Name, int Line) : Target(Line);

internal sealed record TupleTarget(IReadOnlyList<Target> Items, int Line) : Target(Line);

/// <summary><c>set ns.attr = ...</c>: the only assignment that reaches out of a loop body.</summary>
internal sealed record NamespaceTarget(string Namespace, string Attribute, int Line) : Target(Line);

/// <summary>Template statements.</summary>
internal abstract record Node(int Line);

internal sealed record TextNode(string Text, int Line) : Node(Line);

internal sealed record OutputNode(Expr Value, int Line) : Node(Line);

internal sealed record IfNode(IReadOnlyList<(Expr Test, IReadOnlyList<Node> Body)> Branches, IReadOnlyList<Node> Else, int Line) : Node(Line);

internal sealed record ForNode(Target Target, Expr Iterable, Expr? Filter, IReadOnlyList<Node> Body, IReadOnlyList<Node> Else, int Line) : Node(Line);

internal sealed record SetNode(Target Target, Expr Value, int Line) : Node(Line);

/// <summary><c>{% set x | filter %}body{% endset %}</c>: captures the rendered body.</summary>
internal sealed record SetBlockNode(Target Target, FilterExpr? Filter, IReadOnlyList<Node> Body, int Line) : Node(Line);

internal sealed record Parameter(string Name, Expr? Default);

/// <summary>
/// A macro (or a call block's body). Like Jinja, it accepts extra positional or keyword
/// arguments, or a caller, only when its body mentions <c>varargs</c>, <c>kwargs</c> or <c>caller</c>.
/// </summary>
internal sealed record MacroDefinition(
    string Name,
    IReadOnlyList<Parameter> Parameters,
    IReadOnlyList<Node> Body,
    bool CatchesVarargs,
    bool CatchesKwargs,
    bool UsesCaller);

internal sealed record MacroNode(MacroDefinition Macro, int Line) : Node(Line);

/// <summary><c>{% call(params) macro(args) %}body{% endcall %}</c>: body becomes the macro's <c>caller</c>.</summary>
internal sealed record CallBlockNode(MacroDefinition Caller, CallExpr Call, int Line) : Node(Line);

internal sealed record FilterBlockNode(FilterExpr Filter, IReadOnlyList<Node> Body, int Line) : Node(Line);

/// <summary><c>with</c> (and transformers' <c>generation</c> tag): a scope with optional bindings.</summary>
internal sealed record WithNode(IReadOnlyList<(Target Target, Expr Value)> Bindings, IReadOnlyList<Node> Body, int Line) : Node(Line);

internal sealed record BreakNode(int Line) : Node(Line);

internal sealed record ContinueNode(int Line) : Node(Line);
