namespace LlmEngine.Host.Chat;

/// <summary>
/// Jinja's built-in filters that chat templates use, with Jinja's argument names and defaults
/// (<c>default(value, default_value='', boolean=False)</c> and so on), plus transformers'
/// <c>tojson</c>. Text, collection and number filters live in the other parts of this class.
/// </summary>
internal static partial class Filters
{
    private delegate object? Filter(object? value, CallArgs args);

    private static readonly Dictionary<string, Filter> Table = new(StringComparer.Ordinal)
    {
        ["trim"] = Trim,
        ["upper"] = (v, _) => PyFormat.Str(v).ToUpperInvariant(),
        ["lower"] = (v, _) => PyFormat.Str(v).ToLowerInvariant(),
        ["title"] = Title,
        ["capitalize"] = (v, _) => PyString.Capitalize(PyFormat.Str(v)),
        ["replace"] = Replace,
        ["string"] = (v, _) => PyFormat.Str(v),
        ["safe"] = (v, _) => v,
        ["escape"] = Escape,
        ["e"] = Escape,
        ["forceescape"] = Escape,
        ["indent"] = Indent,
        ["format"] = Format,
        ["tojson"] = ToJson,
        ["length"] = (v, _) => (long)PyOps.Length(v),
        ["count"] = (v, _) => (long)PyOps.Length(v),
        ["default"] = Default,
        ["d"] = Default,
        ["first"] = First,
        ["last"] = Last,
        ["list"] = (v, _) => new PyList(PyOps.Iterate(v)),
        ["join"] = Join,
        ["reverse"] = Reverse,
        ["unique"] = Unique,
        ["sort"] = Sort,
        ["dictsort"] = DictSort,
        ["items"] = Items,
        ["selectattr"] = (v, a) => Select(v, a, byAttribute: true, keep: true),
        ["rejectattr"] = (v, a) => Select(v, a, byAttribute: true, keep: false),
        ["select"] = (v, a) => Select(v, a, byAttribute: false, keep: true),
        ["reject"] = (v, a) => Select(v, a, byAttribute: false, keep: false),
        ["map"] = Map,
        ["batch"] = Batch,
        ["sum"] = Sum,
        ["min"] = (v, a) => MinMax(v, a, wantMax: false),
        ["max"] = (v, a) => MinMax(v, a, wantMax: true),
        ["int"] = Int,
        ["float"] = Float,
        ["abs"] = Abs,
        ["round"] = Round,
    };

    public static bool Exists(string name) => Table.ContainsKey(name);

    public static object? Apply(string name, object? value, CallArgs args) =>
        Table.TryGetValue(name, out var filter)
            ? filter(value, args)
            : throw new ChatTemplateException($"No filter named '{name}'.");

    /// <summary>
    /// Jinja's make_attrgetter: "a.b.0" walks item lookups (digits become indices); with a
    /// default, an undefined result is replaced by it.
    /// </summary>
    private static Func<object?, object?> AttributeGetter(object? attribute, object? fallback = null, bool ignoreCase = false)
    {
        var parts = attribute switch
        {
            null => [],
            string s => s.Split('.').Select(p => long.TryParse(p, out var i) ? (object)i : p).ToArray(),
            _ => [attribute],
        };
        return item =>
        {
            foreach (var part in parts) item = PyAccess.GetItem(item, part);
            if (fallback is not null && item is Undefined) item = fallback;
            return ignoreCase && item is string text ? text.ToLowerInvariant() : item;
        };
    }

    private static bool Bool(CallArgs args, int index, string name, bool fallback = false) =>
        PyOps.Truthy(args.Get(index, name, fallback));
}
