namespace LlmEngine.Host.Chat;

/// <summary>
/// Expression half of the parser. Precedence, loosest first, as in Jinja:
/// <code>
///   a if c else b  →  or  →  and  →  not  →  == != &lt; in not-in (chained)
///   →  + -  →  ~  →  * / // %  →  **  →  unary - +  →  primary . [] () | is
/// </code>
/// Filters and tests bind to the primary, so <c>'a' + x | trim</c> trims only x, and
/// <c>-x | abs</c> applies abs to -x.
/// </summary>
internal sealed partial class Parser
{
    private static readonly Dictionary<string, CompareOp> CompareOps = new()
    {
        ["=="] = CompareOp.Eq, ["!="] = CompareOp.Ne, ["<"] = CompareOp.Lt,
        ["<="] = CompareOp.LtEq, [">"] = CompareOp.Gt, [">="] = CompareOp.GtEq,
    };

    private Expr ParseExpression(bool withCondition = true) => withCondition ? ParseCondition() : ParseOr();

    private Expr ParseCondition()
    {
        var line = _stream.Current.Line;
        var expr = ParseOr();
        while (_stream.SkipName("if"))
        {
            var test = ParseOr();
            var otherwise = _stream.SkipName("else") ? ParseCondition() : null;
            expr = new CondExpr(test, expr, otherwise, line);
            line = _stream.Current.Line;
        }
        return expr;
    }

    private Expr ParseOr() => ParseLeftAssociative(ParseAnd, "or", BinaryOp.Or);

    private Expr ParseAnd() => ParseLeftAssociative(ParseNot, "and", BinaryOp.And);

    private Expr ParseLeftAssociative(Func<Expr> operand, string keyword, BinaryOp op)
    {
        var left = operand();
        while (_stream.Current.IsName(keyword))
        {
            var line = _stream.Next().Line;
            left = new BinaryExpr(op, left, operand(), line);
        }
        return left;
    }

    private Expr ParseNot()
    {
        if (!_stream.Current.IsName("not")) return ParseCompare();
        var line = _stream.Next().Line;
        return new UnaryExpr(UnaryOp.Not, ParseNot(), line);
    }

    private Expr ParseCompare()
    {
        var line = _stream.Current.Line;
        var first = ParseMath1();
        var rest = new List<(CompareOp, Expr)>();
        while (true)
        {
            var token = _stream.Current;
            if (token.Kind == TokenKind.Operator && CompareOps.TryGetValue(token.Text, out var op))
            {
                _stream.Next();
                rest.Add((op, ParseMath1()));
            }
            else if (_stream.SkipName("in")) rest.Add((CompareOp.In, ParseMath1()));
            else if (token.IsName("not") && _stream.Peek.IsName("in"))
            {
                _stream.Next();
                _stream.Next();
                rest.Add((CompareOp.NotIn, ParseMath1()));
            }
            else break;
        }
        return rest.Count == 0 ? first : new CompareExpr(first, rest, line);
    }

    private Expr ParseMath1() => ParseBinary(ParseConcat, ("+", BinaryOp.Add), ("-", BinaryOp.Sub));

    private Expr ParseConcat()
    {
        var line = _stream.Current.Line;
        var parts = new List<Expr> { ParseMath2() };
        while (_stream.SkipOperator("~")) parts.Add(ParseMath2());
        return parts.Count == 1 ? parts[0] : new ConcatExpr(parts, line);
    }

    private Expr ParseMath2() => ParseBinary(ParsePow,
        ("*", BinaryOp.Mul), ("/", BinaryOp.Div), ("//", BinaryOp.FloorDiv), ("%", BinaryOp.Mod));

    /// <summary>Jinja's ** is left-associative, unlike Python's: 2**3**2 is 64.</summary>
    private Expr ParsePow() => ParseBinary(() => ParseUnary(), ("**", BinaryOp.Pow));

    private Expr ParseBinary(Func<Expr> operand, params (string Symbol, BinaryOp Op)[] ops)
    {
        var left = operand();
        while (true)
        {
            var token = _stream.Current;
            var match = ops.FirstOrDefault(o => token.IsOperator(o.Symbol));
            if (match.Symbol is null) return left;
            _stream.Next();
            left = new BinaryExpr(match.Op, left, operand(), token.Line);
        }
    }

    private Expr ParseUnary(bool withFilter = true)
    {
        var token = _stream.Current;
        Expr node;
        if (_stream.SkipOperator("-")) node = new UnaryExpr(UnaryOp.Neg, ParseUnary(withFilter: false), token.Line);
        else if (_stream.SkipOperator("+")) node = new UnaryExpr(UnaryOp.Pos, ParseUnary(withFilter: false), token.Line);
        else node = ParsePrimary();
        node = ParsePostfix(node);
        return withFilter ? ParseFilterOrTest(node) : node;
    }

    private Expr ParsePrimary()
    {
        var token = _stream.Next();
        switch (token.Kind)
        {
            case TokenKind.Name:
                return token.Text switch
                {
                    "true" or "True" => new ConstExpr(true, token.Line),
                    "false" or "False" => new ConstExpr(false, token.Line),
                    "none" or "None" => new ConstExpr(null, token.Line),
                    _ => Name(token),
                };
            case TokenKind.String:
                // Adjacent literals concatenate, as in Python.
                var text = (string)token.Value!;
                while (_stream.Current.Kind == TokenKind.String) text += (string)_stream.Next().Value!;
                return new ConstExpr(text, token.Line);
            case TokenKind.Integer or TokenKind.Float:
                return new ConstExpr(token.Value, token.Line);
            case TokenKind.Operator when token.Text == "(":
                var inner = ParseTuple(withCondition: true, explicitParentheses: true);
                _stream.ExpectOperator(")");
                return inner;
            case TokenKind.Operator when token.Text == "[":
                return new ListExpr(ParseItems("]", () => ParseExpression()), false, token.Line);
            case TokenKind.Operator when token.Text == "{":
                return new DictExpr(ParseItems("}", ParsePair), token.Line);
            default:
                throw ChatTemplateException.Syntax($"unexpected '{token.Describe()}'", token.Line);
        }
    }

    private NameExpr Name(Token token)
    {
        NoteName(token.Text);
        return new NameExpr(token.Text, token.Line);
    }

    private (Expr, Expr) ParsePair()
    {
        var key = ParseExpression();
        _stream.ExpectOperator(":");
        return (key, ParseExpression());
    }

    /// <summary>Comma-separated items up to <paramref name="close"/>, trailing comma allowed.</summary>
    private List<T> ParseItems<T>(string close, Func<T> item)
    {
        var items = new List<T>();
        while (!_stream.Current.IsOperator(close))
        {
            if (items.Count > 0) _stream.ExpectOperator(",");
            if (_stream.Current.IsOperator(close)) break;
            items.Add(item());
        }
        _stream.ExpectOperator(close);
        return items;
    }

    /// <summary>
    /// An expression or a bare tuple <c>a, b</c>. Tuples end at %}, }}, ) or one of
    /// <paramref name="endNames"/> (the "in" of a for loop).
    /// </summary>
    private Expr ParseTuple(bool withCondition, string[]? endNames = null, bool explicitParentheses = false)
    {
        var line = _stream.Current.Line;
        var items = new List<Expr>();
        var isTuple = false;
        while (true)
        {
            if (items.Count > 0) _stream.ExpectOperator(",");
            if (IsTupleEnd(endNames)) break;
            items.Add(ParseExpression(withCondition));
            if (!_stream.Current.IsOperator(",")) break;
            isTuple = true;
        }
        if (isTuple) return new ListExpr(items, true, line);
        if (items.Count > 0) return items[0];
        if (!explicitParentheses)
            throw ChatTemplateException.Syntax($"Expected an expression, got '{_stream.Current.Describe()}'", _stream.Current.Line);
        return new ListExpr(items, true, line);
    }

    private bool IsTupleEnd(string[]? endNames)
    {
        var token = _stream.Current;
        return token.Kind is TokenKind.VariableEnd or TokenKind.BlockEnd or TokenKind.Eof
            || token.IsOperator(")")
            || (endNames is not null && token.Kind == TokenKind.Name && endNames.Contains(token.Text));
    }

    private Expr ParsePostfix(Expr node)
    {
        while (true)
        {
            var token = _stream.Current;
            if (token.IsOperator(".")) node = ParseDot(node);
            else if (token.IsOperator("[")) node = ParseSubscript(node);
            else if (token.IsOperator("(")) node = new CallExpr(node, ParseArguments(), token.Line);
            else return node;
        }
    }

    private Expr ParseFilterOrTest(Expr node)
    {
        while (true)
        {
            var token = _stream.Current;
            if (token.IsOperator("|")) node = ParseFilterChain(node);
            else if (token.IsName("is")) node = ParseTest(node);
            else if (token.IsOperator("(")) node = new CallExpr(node, ParseArguments(), token.Line);
            else return node;
        }
    }

    private Expr ParseDot(Expr node)
    {
        var dot = _stream.Next();
        var attribute = _stream.Next();
        return attribute.Kind switch
        {
            TokenKind.Name => new GetAttrExpr(node, attribute.Text, dot.Line),
            TokenKind.Integer => new GetItemExpr(node, new ConstExpr(attribute.Value, attribute.Line), dot.Line),
            _ => throw ChatTemplateException.Syntax("expected name or number", attribute.Line),
        };
    }

    private Expr ParseSubscript(Expr node)
    {
        var line = _stream.ExpectOperator("[").Line;
        var keys = new List<Expr>();
        while (!_stream.Current.IsOperator("]"))
        {
            if (keys.Count > 0) _stream.ExpectOperator(",");
            keys.Add(ParseSubscribed());
        }
        _stream.ExpectOperator("]");
        var key = keys.Count == 1 ? keys[0] : new ListExpr(keys, true, line);
        return new GetItemExpr(node, key, line);
    }

    /// <summary>An index or a slice <c>start:stop:step</c> with any part omitted.</summary>
    private Expr ParseSubscribed()
    {
        var line = _stream.Current.Line;
        Expr? start = null;
        if (!_stream.Current.IsOperator(":"))
        {
            start = ParseExpression();
            if (!_stream.Current.IsOperator(":")) return start;
        }
        _stream.ExpectOperator(":");
        var stop = IsSliceEnd() ? null : ParseExpression();
        Expr? step = null;
        if (_stream.SkipOperator(":") && !IsSliceEnd()) step = ParseExpression();
        return new SliceExpr(start, stop, step, line);
    }

    private bool IsSliceEnd() =>
        _stream.Current.IsOperator("]") || _stream.Current.IsOperator(",") || _stream.Current.IsOperator(":");
}
