namespace LlmEngine.Host.Chat;

/// <summary>
/// Global functions of HF's template environment: Jinja's <c>range</c>, <c>dict</c> and
/// <c>namespace</c>, and transformers' <c>raise_exception</c>.
/// </summary>
internal static class Globals
{
    /// <summary>The sandbox refuses bigger ranges (jinja2.sandbox.MAX_RANGE).</summary>
    private const long MaxRange = 100_000;

    public static Scope Create()
    {
        var scope = new Scope();
        scope.Set("range", new Function("range", Range));
        scope.Set("dict", new Function("dict", args => Dict(args)));
        scope.Set("namespace", new Function("namespace", CreateNamespace));
        scope.Set("raise_exception", new Function("raise_exception",
            args => throw new ChatTemplateException(PyFormat.Str(args.Get(0, "message")))));
        return scope;
    }

    private static object? Range(CallArgs args)
    {
        var numbers = args.Positional.Select(a => PyOps.AsInt(a)
            ?? throw new ChatTemplateException($"'{PyFormat.TypeName(a)}' object cannot be interpreted as an integer")).ToArray();
        var (start, stop, step) = numbers.Length switch
        {
            1 => (0L, numbers[0], 1L),
            2 => (numbers[0], numbers[1], 1L),
            3 => (numbers[0], numbers[1], numbers[2]),
            _ => throw new ChatTemplateException($"range expected 1 to 3 arguments, got {numbers.Length}"),
        };
        if (step == 0) throw new ChatTemplateException("range() arg 3 must not be zero");
        var count = step > 0 ? Math.Max(0, (stop - start + step - 1) / step) : Math.Max(0, (start - stop - step - 1) / -step);
        if (count > MaxRange)
            throw new ChatTemplateException($"Range too big. The sandbox blocks ranges larger than MAX_RANGE ({MaxRange}).");
        var items = new object?[count];
        for (var i = 0; i < count; i++) items[i] = start + i * step;
        return new PyList(items);
    }

    /// <summary>dict(mapping or pairs, **kwargs), as Python builds it.</summary>
    private static PyDict Dict(CallArgs args)
    {
        var dict = new PyDict();
        if (args.Positional.Count > 0)
        {
            if (args.Positional[0] is PyDict source)
                foreach (var (key, value) in source.Pairs) dict.Set(key, value);
            else
                foreach (var pair in PyOps.Iterate(args.Positional[0]))
                {
                    var items = PyOps.Iterate(pair);
                    if (items.Count != 2) throw new ChatTemplateException("dictionary update sequence element has wrong length; 2 is required");
                    dict.Set(items[0], items[1]);
                }
        }
        foreach (var (key, value) in args.Keywords) dict.Set(key, value);
        return dict;
    }

    private static Namespace CreateNamespace(CallArgs args)
    {
        var ns = new Namespace();
        foreach (var (key, value) in Dict(args).Pairs)
            ns.Attributes[key as string ?? throw new ChatTemplateException("namespace keys must be strings")] = value;
        return ns;
    }
}
