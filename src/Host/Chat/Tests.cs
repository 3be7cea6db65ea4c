namespace LlmEngine.Host.Chat;

/// <summary>Jinja's built-in tests (<c>x is defined</c>, <c>x is divisibleby 3</c>, ...).</summary>
internal static class Tests
{
    private delegate bool Test(object? value, CallArgs args);

    private static readonly Dictionary<string, Test> Table = new(StringComparer.Ordinal)
    {
        ["defined"] = (v, _) => v is not Undefined,
        ["undefined"] = (v, _) => v is Undefined,
        ["none"] = (v, _) => v is null,
        ["boolean"] = (v, _) => v is bool,
        ["true"] = (v, _) => v is true,
        ["false"] = (v, _) => v is false,
        ["integer"] = (v, _) => v is long,
        ["float"] = (v, _) => v is double,
        ["number"] = (v, _) => PyOps.IsNumber(v),
        ["string"] = (v, _) => v is string,
        ["mapping"] = (v, _) => v is PyDict,
        // Undefined has __len__ and __getitem__, so Jinja counts it as a sequence too.
        ["sequence"] = (v, _) => v is string or PyList or PyDict or Undefined,
        ["iterable"] = (v, _) => v is string or PyList or PyDict or PyDictView or PyIterator or Undefined,
        ["callable"] = (v, _) => v is Function,
        ["odd"] = (v, _) => Remainder(v, 2L) == 1,
        ["even"] = (v, _) => Remainder(v, 2L) == 0,
        ["divisibleby"] = (v, a) => Remainder(v, a.Get(0, "num")) == 0,
        ["eq"] = Equal,
        ["equalto"] = Equal,
        ["=="] = Equal,
        ["ne"] = (v, a) => !PyOps.AreEqual(v, a.Get(0, "other")),
        ["!="] = (v, a) => !PyOps.AreEqual(v, a.Get(0, "other")),
        ["lt"] = (v, a) => PyOps.Compare(v, a.Get(0, "other")) < 0,
        ["lessthan"] = (v, a) => PyOps.Compare(v, a.Get(0, "other")) < 0,
        ["<"] = (v, a) => PyOps.Compare(v, a.Get(0, "other")) < 0,
        ["le"] = (v, a) => PyOps.Compare(v, a.Get(0, "other"), "<=") <= 0,
        ["<="] = (v, a) => PyOps.Compare(v, a.Get(0, "other"), "<=") <= 0,
        ["gt"] = (v, a) => PyOps.Compare(v, a.Get(0, "other"), ">") > 0,
        ["greaterthan"] = (v, a) => PyOps.Compare(v, a.Get(0, "other"), ">") > 0,
        [">"] = (v, a) => PyOps.Compare(v, a.Get(0, "other"), ">") > 0,
        ["ge"] = (v, a) => PyOps.Compare(v, a.Get(0, "other"), ">=") >= 0,
        [">="] = (v, a) => PyOps.Compare(v, a.Get(0, "other"), ">=") >= 0,
        ["in"] = (v, a) => PyOps.Contains(a.Get(0, "seq"), v),
        ["lower"] = (v, _) => PyFormat.Str(v) is var s && s.Any(char.IsLower) && !s.Any(char.IsUpper),
        ["upper"] = (v, _) => PyFormat.Str(v) is var s && s.Any(char.IsUpper) && !s.Any(char.IsLower),
        ["sameas"] = (v, a) => SameAs(v, a.Get(0, "other")),
        ["escaped"] = (_, _) => false,
        ["filter"] = (v, _) => v is string name && Filters.Exists(name),
        ["test"] = (v, _) => v is string name && Exists(name),
    };

    public static bool Exists(string name) => Table.ContainsKey(name);

    public static bool Apply(string name, object? value, CallArgs args) =>
        Table.TryGetValue(name, out var test)
            ? test(value, args)
            : throw new ChatTemplateException($"No test named '{name}'.");

    private static bool Equal(object? value, CallArgs args) => PyOps.AreEqual(value, args.Get(0, "other"));

    private static double Remainder(object? value, object? divisor) =>
        PyOps.ToDouble(PyArithmetic.Apply(BinaryOp.Mod, value, divisor));

    /// <summary>Python's "is": None and the bools are singletons; anything else must be the same object.</summary>
    private static bool SameAs(object? a, object? b) =>
        (a, b) switch
        {
            (null, null) => true,
            (bool x, bool y) => x == y,
            _ => ReferenceEquals(a, b),
        };
}
