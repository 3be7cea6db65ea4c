using System.Text;

namespace LlmEngine.Host.Chat;

/// <summary>
/// Executes template statements, writing output; one instance per render. Scoping follows
/// Jinja: each loop iteration, macro call and with/filter/set block runs in a child scope,
/// <c>if</c> does not open one.
/// </summary>
internal sealed class Renderer
{
    /// <summary>
    /// Nested macro calls allowed. Python stops runaway recursion (a schema macro recursing on
    /// a string's characters, say) with RecursionError; this stops it before the stack does.
    /// </summary>
    private const int MaxMacroDepth = 200;

    private int _macroDepth;

    private Renderer()
    {
    }

    /// <summary>How a statement list ended: normally, or by break/continue heading for the loop.</summary>
    private enum Flow { Normal, Break, Continue }

    public static string Render(IReadOnlyList<Node> template, Scope scope) => new Renderer().Capture(template, scope);

    private Flow Execute(IReadOnlyList<Node> nodes, Scope scope, StringBuilder output)
    {
        foreach (var node in nodes)
        {
            var flow = Execute(node, scope, output);
            if (flow != Flow.Normal) return flow;
        }
        return Flow.Normal;
    }

    private Flow Execute(Node node, Scope scope, StringBuilder output)
    {
        switch (node)
        {
            case TextNode text:
                output.Append(text.Text);
                return Flow.Normal;
            case OutputNode o:
                output.Append(PyFormat.Str(Evaluator.Eval(o.Value, scope)));
                return Flow.Normal;
            case IfNode i:
                foreach (var (test, body) in i.Branches)
                {
                    if (PyOps.Truthy(Evaluator.Eval(test, scope))) return Execute(body, scope, output);
                }
                return Execute(i.Else, scope, output);
            case ForNode f:
                ExecuteFor(f, scope, output);
                return Flow.Normal;
            case SetNode s:
                Assign(s.Target, Evaluator.Eval(s.Value, scope), scope);
                return Flow.Normal;
            case SetBlockNode s:
                object? captured = Capture(s.Body, new Scope(scope));
                if (s.Filter is not null) captured = Evaluator.ApplyFilterChain(s.Filter, captured, scope);
                Assign(s.Target, captured, scope);
                return Flow.Normal;
            case MacroNode m:
                scope.Set(m.Name, Macro(m.Name, m.Parameters, m.Body, scope));
                return Flow.Normal;
            case CallBlockNode c:
                var caller = Macro("caller", c.Parameters, c.Body, scope);
                var args = Evaluator.EvalArguments(c.Call.Args, scope);
                args = args with { Keywords = [.. args.Keywords, KeyValuePair.Create("caller", (object?)caller)] };
                output.Append(PyFormat.Str(Evaluator.Call(Evaluator.Eval(c.Call.Callee, scope), args)));
                return Flow.Normal;
            case FilterBlockNode fb:
                output.Append(PyFormat.Str(Evaluator.ApplyFilterChain(fb.Filter, Capture(fb.Body, new Scope(scope)), scope)));
                return Flow.Normal;
            case WithNode w:
                var values = w.Bindings.Select(b => Evaluator.Eval(b.Value, scope)).ToList();
                var inner = new Scope(scope);
                for (var k = 0; k < values.Count; k++) Assign(w.Bindings[k].Target, values[k], inner);
                return Execute(w.Body, inner, output);
            case BreakNode:
                return Flow.Break;
            case ContinueNode:
                return Flow.Continue;
            default:
                throw new ArgumentOutOfRangeException(nameof(node), node.GetType().Name);
        }
    }

    /// <summary>
    /// The optional <c>if</c> filter runs first, so loop.index/length/last count only kept items.
    /// The <c>else</c> body runs unless some iteration ran its body to the end: Jinja clears its
    /// "no iteration" flag at the end of the body, so a loop whose every iteration breaks or
    /// continues early still runs <c>else</c>.
    /// </summary>
    private void ExecuteFor(ForNode f, Scope scope, StringBuilder output)
    {
        IReadOnlyList<object?> items = PyOps.Iterate(Evaluator.Eval(f.Iterable, scope));
        if (f.Filter is not null)
        {
            items = items.Where(item =>
            {
                var probe = new Scope(scope);
                Assign(f.Target, item, probe);
                return PyOps.Truthy(Evaluator.Eval(f.Filter, probe));
            }).ToList();
        }
        var loop = new LoopContext(items);
        var completedAny = false;
        for (var i = 0; i < items.Count; i++)
        {
            var iteration = new Scope(scope);
            Assign(f.Target, items[i], iteration);
            iteration.Set("loop", loop);
            loop.Index0 = i;
            var flow = Execute(f.Body, iteration, output);
            if (flow == Flow.Break) break;
            completedAny |= flow == Flow.Normal;
        }
        if (!completedAny) Execute(f.Else, new Scope(scope), output);
    }

    private string Capture(IReadOnlyList<Node> body, Scope scope)
    {
        var output = new StringBuilder();
        Execute(body, scope, output);
        return output.ToString();
    }

    private static void Assign(Target target, object? value, Scope scope)
    {
        switch (target)
        {
            case NameTarget n:
                scope.Set(n.Name, value);
                break;
            case TupleTarget t:
                var items = PyOps.Iterate(value);
                if (items.Count > t.Items.Count) throw new ChatTemplateException($"too many values to unpack (expected {t.Items.Count})");
                if (items.Count < t.Items.Count)
                    throw new ChatTemplateException($"not enough values to unpack (expected {t.Items.Count}, got {items.Count})");
                for (var i = 0; i < items.Count; i++) Assign(t.Items[i], items[i], scope);
                break;
            case NamespaceTarget ns:
                if (scope.Lookup(ns.Namespace) is not Namespace space)
                    throw new ChatTemplateException("cannot assign attribute on non-namespace object");
                space.Attributes[ns.Attribute] = value;
                break;
        }
    }

    /// <summary>
    /// A macro closes over the scope it was defined in (by reference, so later sets there are
    /// seen). Arguments bind positionally then by name; extras land in varargs/kwargs; missing
    /// ones take their default, evaluated in the call's scope, or are undefined.
    /// </summary>
    private Function Macro(string name, IReadOnlyList<Parameter> parameters, IReadOnlyList<Node> body, Scope defining) =>
        new(name, args =>
        {
            var frame = new Scope(defining);
            var bound = new HashSet<string>();
            for (var i = 0; i < Math.Min(parameters.Count, args.Positional.Count); i++)
            {
                frame.Set(parameters[i].Name, args.Positional[i]);
                bound.Add(parameters[i].Name);
            }
            var extraKeywords = new PyDict();
            foreach (var (key, value) in args.Keywords)
            {
                if (parameters.Any(p => p.Name == key))
                {
                    if (!bound.Add(key)) throw new ChatTemplateException($"macro '{name}' got multiple values for argument '{key}'");
                    frame.Set(key, value);
                }
                else if (key == "caller") frame.Set(key, value);
                else extraKeywords.Set(key, value);
            }
            foreach (var parameter in parameters.Where(p => !bound.Contains(p.Name)))
            {
                frame.Set(parameter.Name, parameter.Default is null
                    ? Undefined.Hint($"parameter '{parameter.Name}' was not provided")
                    : Evaluator.Eval(parameter.Default, frame));
            }
            frame.Set("varargs", new PyList(args.Positional.Skip(parameters.Count).ToArray(), isTuple: true));
            frame.Set("kwargs", extraKeywords);
            if (++_macroDepth > MaxMacroDepth) throw new ChatTemplateException("maximum recursion depth exceeded");
            try
            {
                return Capture(body, frame);
            }
            finally
            {
                _macroDepth--;
            }
        });
}
