namespace LlmEngine.Host.Chat;

/// <summary>
/// Python methods reachable from templates (<c>content.strip()</c>, <c>message.get('x')</c>,
/// <c>tool.items()</c>). Mutating methods are refused as in HF's ImmutableSandboxedEnvironment.
/// </summary>
internal static class PyMethods
{
    private static readonly HashSet<string> MutatingList = ["append", "extend", "insert", "pop", "remove", "reverse", "sort", "clear"];
    private static readonly HashSet<string> MutatingDict = ["pop", "popitem", "setdefault", "update", "clear"];

    /// <summary>The bound method, an undefined that fails when used (unsafe method), or null.</summary>
    public static object? Find(object? target, string name) => target switch
    {
        string s => StringMethod(s, name),
        PyDict d when MutatingDict.Contains(name) => Unsafe(d, name),
        PyDict d => DictMethod(d, name),
        PyList l when MutatingList.Contains(name) => Unsafe(l, name),
        PyList l => ListMethod(l, name),
        _ => null,
    };

    private static Undefined Unsafe(object target, string name) =>
        Undefined.Hint($"access to attribute '{name}' of '{PyFormat.TypeName(target)}' object is unsafe.");

    private static Function Bind(string name, Func<CallArgs, object?> body) => new(name, body);

    private static Function? StringMethod(string s, string name) => name switch
    {
        "strip" => Bind(name, a => PyString.Strip(s, OptionalString(a, 0, "chars"))),
        "lstrip" => Bind(name, a => PyString.Strip(s, OptionalString(a, 0, "chars"), right: false)),
        "rstrip" => Bind(name, a => PyString.Strip(s, OptionalString(a, 0, "chars"), left: false)),
        "split" => Bind(name, a => Strings(PyString.Split(s, OptionalString(a, 0, "sep"), Int(a, 1, "maxsplit", -1)))),
        "rsplit" => Bind(name, a => OptionalString(a, 0, "sep") is { } sep
            ? Strings(PyString.RSplit(s, sep, Int(a, 1, "maxsplit", -1)))
            : Strings(PyString.Split(s, null, -1))),
        "splitlines" => Bind(name, a => Strings(PyString.SplitLines(s, PyOps.Truthy(a.Get(0, "keepends", false))))),
        "startswith" => Bind(name, a => Affixes(a).Any(p => s.StartsWith(p, StringComparison.Ordinal))),
        "endswith" => Bind(name, a => Affixes(a).Any(p => s.EndsWith(p, StringComparison.Ordinal))),
        "upper" => Bind(name, _ => s.ToUpperInvariant()),
        "lower" => Bind(name, _ => s.ToLowerInvariant()),
        "title" => Bind(name, _ => PyString.Title(s)),
        "capitalize" => Bind(name, _ => PyString.Capitalize(s)),
        "replace" => Bind(name, a => PyString.Replace(s, RequiredString(a, 0, "old"), RequiredString(a, 1, "new"), Int(a, 2, "count", -1))),
        "find" => Bind(name, a => Find(s, RequiredString(a, 0, "sub"), last: false)),
        "rfind" => Bind(name, a => Find(s, RequiredString(a, 0, "sub"), last: true)),
        "count" => Bind(name, a => Count(s, RequiredString(a, 0, "x"))),
        "join" => Bind(name, a => string.Join(s, PyOps.Iterate(a.Get(0, "iterable")).Select(x =>
            x as string ?? throw new ChatTemplateException($"sequence item: expected str instance, {PyFormat.TypeName(x)} found")))),
        "removeprefix" => Bind(name, a => RequiredString(a, 0, "prefix") is var p && s.StartsWith(p, StringComparison.Ordinal) ? s[p.Length..] : s),
        "removesuffix" => Bind(name, a => RequiredString(a, 0, "suffix") is var p && p.Length > 0 && s.EndsWith(p, StringComparison.Ordinal) ? s[..^p.Length] : s),
        "isdigit" => Bind(name, _ => s.Length > 0 && s.All(char.IsDigit)),
        "isalpha" => Bind(name, _ => s.Length > 0 && s.All(char.IsLetter)),
        "isalnum" => Bind(name, _ => s.Length > 0 && s.All(char.IsLetterOrDigit)),
        "isspace" => Bind(name, _ => s.Length > 0 && s.All(PyString.IsSpace)),
        "isupper" => Bind(name, _ => s.Any(char.IsUpper) && !s.Any(char.IsLower)),
        "islower" => Bind(name, _ => s.Any(char.IsLower) && !s.Any(char.IsUpper)),
        "format" => Bind(name, a => PyStrFormat.Format(s, a)),
        _ => null,
    };

    private static Function? DictMethod(PyDict d, string name) => name switch
    {
        "items" => Bind(name, _ => new PyDictView(name, d.Pairs.Select(p => (object?)PyList.Tuple(p.Key, p.Value)).ToArray())),
        "keys" => Bind(name, _ => new PyDictView(name, d.Keys.ToArray<object?>())),
        "values" => Bind(name, _ => new PyDictView(name, d.Values.ToArray())),
        "get" => Bind(name, a => d.TryGet(a.Get(0, "key"), out var v) ? v : a.Get(1, "default")),
        "copy" => Bind(name, _ => d),
        _ => null,
    };

    private static Function? ListMethod(PyList l, string name) => name switch
    {
        "index" => Bind(name, a =>
        {
            var item = a.Get(0, "value");
            for (var i = 0; i < l.Count; i++)
            {
                if (PyOps.AreEqual(l[i], item)) return (long)i;
            }
            throw new ChatTemplateException($"{PyFormat.Repr(item)} is not in list");
        }),
        "count" => Bind(name, a => (long)l.Count(x => PyOps.AreEqual(x, a.Get(0, "value")))),
        "copy" => Bind(name, _ => l),
        _ => null,
    };

    private static PyList Strings(IEnumerable<string> items) => new(items.ToArray<object?>());

    private static string? OptionalString(CallArgs args, int index, string name) => args.Get(index, name) switch
    {
        null => null,
        string s => s,
        var other => throw new ChatTemplateException($"{name} must be str or None, not {PyFormat.TypeName(other)}"),
    };

    private static string RequiredString(CallArgs args, int index, string name) =>
        args.Get(index, name) as string
        ?? throw new ChatTemplateException($"{name} must be str, not {PyFormat.TypeName(args.Get(index, name))}");

    private static long Int(CallArgs args, int index, string name, long fallback) =>
        args.TryGet(index, name, out var value)
            ? PyOps.AsInt(value) ?? throw new ChatTemplateException($"'{PyFormat.TypeName(value)}' object cannot be interpreted as an integer")
            : fallback;

    /// <summary>startswith/endswith take one string or a tuple of alternatives.</summary>
    private static IEnumerable<string> Affixes(CallArgs args) => args.Get(0, "prefix") switch
    {
        string s => [s],
        PyList { IsTuple: true } t => t.Select(x => x as string ?? throw new ChatTemplateException("tuple for startswith must only contain str")),
        var other => throw new ChatTemplateException($"startswith first arg must be str or a tuple of str, not {PyFormat.TypeName(other)}"),
    };

    /// <summary>Index in code points, as Python reports it.</summary>
    private static long Find(string s, string sub, bool last)
    {
        var index = last ? s.LastIndexOf(sub, StringComparison.Ordinal) : s.IndexOf(sub, StringComparison.Ordinal);
        return index < 0 ? -1 : PyString.Length(s[..index]);
    }

    private static long Count(string s, string sub)
    {
        if (sub.Length == 0) return PyString.Length(s) + 1;
        long count = 0;
        for (var i = s.IndexOf(sub, StringComparison.Ordinal); i >= 0; i = s.IndexOf(sub, i + sub.Length, StringComparison.Ordinal)) count++;
        return count;
    }
}
