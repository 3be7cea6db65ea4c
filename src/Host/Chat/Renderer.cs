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
                scope.Set(m.Macro.Name, Macro(m.Macro, scope));
                return Flow.Normal;
            case CallBlockNode c:
                var caller = Macro(c.Caller, scope);
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
    /// seen). Binding follows Jinja's Macro.__call__: positional arguments first, then keywords
    /// for the remaining parameters, then defaults (evaluated in the call's scope) or undefined.
    /// Leftovers go to varargs/kwargs when the body uses them and are an error otherwise.
    /// </summary>
    private Function Macro(MacroDefinition macro, Scope defining) =>
        new(macro.Name, args =>
        {
            var frame = new Scope(defining);
            var parameters = macro.Parameters;
            var keywords = args.Keywords.ToList();
            var unbound = new List<Parameter>();
            for (var i = 0; i < parameters.Count; i++)
            {
                var keyword = keywords.FindIndex(k => k.Key == parameters[i].Name);
                if (i < args.Positional.Count) frame.Set(parameters[i].Name, args.Positional[i]);
                else if (keyword >= 0)
                {
                    frame.Set(parameters[i].Name, keywords[keyword].Value);
                    keywords.RemoveAt(keyword);
                }
                else unbound.Add(parameters[i]);
            }
            foreach (var parameter in unbound)
            {
                frame.Set(parameter.Name, parameter.Default is null
                    ? Undefined.Hint($"parameter '{parameter.Name}' was not provided")
                    : Evaluator.Eval(parameter.Default, frame));
            }
            if (macro.UsesCaller && parameters.All(p => p.Name != "caller"))
            {
                var caller = keywords.FindIndex(k => k.Key == "caller");
                frame.Set("caller", caller >= 0 ? keywords[caller].Value : Undefined.Hint("No caller defined"));
                if (caller >= 0) keywords.RemoveAt(caller);
            }
            BindExtras(macro, args, keywords, frame);
            if (++_macroDepth > MaxMacroDepth) throw new ChatTemplateException("maximum recursion depth exceeded");
            try
            {
                return Capture(macro.Body, frame);
            }
            finally
            {
                _macroDepth--;
            }
        });

    private static void BindExtras(MacroDefinition macro, CallArgs args, List<KeyValuePair<string, object?>> keywords, Scope frame)
    {
        if (macro.CatchesKwargs)
        {
            var extra = new PyDict();
            foreach (var (key, value) in keywords) extra.Set(key, value);
            frame.Set("kwargs", extra);
        }
        else if (keywords.Count > 0)
        {
            throw new ChatTemplateException(keywords.Any(k => k.Key == "caller")
                ? $"macro '{macro.Name}' was invoked with two values for the special caller argument. This is most likely a bug."
                : $"macro '{macro.Name}' takes no keyword argument '{keywords[0].Key}'");
        }
        if (macro.CatchesVarargs)
            frame.Set("varargs", new PyList(args.Positional.Skip(macro.Parameters.Count).ToArray(), isTuple: true));
        else if (args.Positional.Count > macro.Parameters.Count)
            throw new ChatTemplateException($"macro '{macro.Name}' takes not more than {macro.Parameters.Count} argument(s)");
    }
}
