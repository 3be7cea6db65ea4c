namespace LlmEngine.Host.Chat;

/// <summary>Evaluates expressions against a scope with Python/Jinja semantics.</summary>
internal static class Evaluator
{
    public static object? Eval(Expr expr, Scope scope) => expr switch
    {
        ConstExpr c => c.Value,
        NameExpr n => scope.Lookup(n.Name),
        GetAttrExpr g => PyAccess.GetAttr(Eval(g.Target, scope), g.Name),
        GetItemExpr g => PyAccess.GetItem(Eval(g.Target, scope), Eval(g.Key, scope)),
        SliceExpr s => new PySlice(EvalOptional(s.Start, scope), EvalOptional(s.Stop, scope), EvalOptional(s.Step, scope)),
        ListExpr l => new PyList(l.Items.Select(item => Eval(item, scope)).ToArray(), l.IsTuple),
        DictExpr d => Dict(d, scope),
        UnaryExpr { Op: UnaryOp.Not } u => !PyOps.Truthy(Eval(u.Operand, scope)),
        UnaryExpr u => PyArithmetic.Negate(Eval(u.Operand, scope), u.Op == UnaryOp.Neg),
        BinaryExpr { Op: BinaryOp.And } b => Eval(b.Left, scope) is var l && PyOps.Truthy(l) ? Eval(b.Right, scope) : l,
        BinaryExpr { Op: BinaryOp.Or } b => Eval(b.Left, scope) is var l && PyOps.Truthy(l) ? l : Eval(b.Right, scope),
        BinaryExpr b => PyArithmetic.Apply(b.Op, Eval(b.Left, scope), Eval(b.Right, scope)),
        ConcatExpr c => string.Concat(c.Parts.Select(part => PyFormat.Str(Eval(part, scope)))),
        CompareExpr c => Compare(c, scope),
        CondExpr c => PyOps.Truthy(Eval(c.Test, scope))
            ? Eval(c.Then, scope)
            : c.Else is null
                ? Undefined.Hint($"the inline if-expression on line {c.Line} evaluated to false and no else section was defined.")
                : Eval(c.Else, scope),
        CallExpr c => Call(Eval(c.Callee, scope), EvalArguments(c.Args, scope)),
        FilterExpr f => Filters.Apply(f.Name, EvalOptional(f.Input, scope), EvalArguments(f.Args, scope)),
        TestExpr t => Tests.Apply(t.Name, Eval(t.Input, scope), EvalArguments(t.Args, scope)),
        _ => throw new ArgumentOutOfRangeException(nameof(expr), expr.GetType().Name),
    };

    /// <summary>Applies a filter/set block's chain, whose head has no input expression, to the rendered body.</summary>
    public static object? ApplyFilterChain(FilterExpr filter, object? input, Scope scope)
    {
        var value = filter.Input is FilterExpr inner ? ApplyFilterChain(inner, input, scope) : input;
        return Filters.Apply(filter.Name, value, EvalArguments(filter.Args, scope));
    }

    public static object? Call(object? callee, CallArgs args) => callee switch
    {
        Function f => f.Call(args),
        Undefined u => throw u.Fail(),
        _ => throw new ChatTemplateException($"'{PyFormat.TypeName(callee)}' object is not callable"),
    };

    public static CallArgs EvalArguments(Arguments args, Scope scope)
    {
        if (args == Arguments.None) return CallArgs.None;
        var positional = args.Positional.Select(a => Eval(a, scope)).ToList();
        if (args.Spread is not null) positional.AddRange(PyOps.Iterate(Eval(args.Spread, scope)));
        var keywords = args.Keywords.Select(k => KeyValuePair.Create(k.Name, Eval(k.Value, scope))).ToList();
        if (args.KeywordSpread is not null)
        {
            if (Eval(args.KeywordSpread, scope) is not PyDict extra) throw new ChatTemplateException("argument after ** must be a mapping");
            foreach (var (key, value) in extra.Pairs)
                keywords.Add(KeyValuePair.Create(key as string ?? throw new ChatTemplateException("keywords must be strings"), value));
        }
        return new CallArgs(positional, keywords);
    }

    private static object? EvalOptional(Expr? expr, Scope scope) => expr is null ? null : Eval(expr, scope);

    private static PyDict Dict(DictExpr d, Scope scope)
    {
        var dict = new PyDict();
        foreach (var (key, value) in d.Pairs) dict.Set(Eval(key, scope), Eval(value, scope));
        return dict;
    }

    /// <summary>Chained as in Python: <c>a &lt; b &lt; c</c> is <c>a &lt; b and b &lt; c</c>, each operand evaluated once.</summary>
    private static bool Compare(CompareExpr c, Scope scope)
    {
        var left = Eval(c.First, scope);
        foreach (var (op, operand) in c.Rest)
        {
            var right = Eval(operand, scope);
            var holds = op switch
            {
                CompareOp.Eq => PyOps.AreEqual(left, right),
                CompareOp.Ne => !PyOps.AreEqual(left, right),
                CompareOp.Lt => PyOps.Compare(left, right, "<") < 0,
                CompareOp.LtEq => PyOps.Compare(left, right, "<=") <= 0,
                CompareOp.Gt => PyOps.Compare(left, right, ">") > 0,
                CompareOp.GtEq => PyOps.Compare(left, right, ">=") >= 0,
                CompareOp.In => PyOps.Contains(right, left),
                CompareOp.NotIn => !PyOps.Contains(right, left),
                _ => throw new ArgumentOutOfRangeException(nameof(c)),
            };
            if (!holds) return false;
            left = right;
        }
        return true;
    }
}
