namespace LlmEngine.Host.Chat;

/// <summary>
/// Python value semantics for template values: truthiness, equality, ordering, iteration,
/// length and containment. Numbers are long or double, bool counts as an int, and operations
/// Python would reject raise the same TypeError message.
/// </summary>
internal static class PyOps
{
    public static bool Truthy(object? value) => value switch
    {
        null or Undefined => false,
        bool b => b,
        long l => l != 0,
        double d => d != 0,
        string s => s.Length > 0,
        PyList list => list.Count > 0,
        PyDict dict => dict.Count > 0,
        PyDictView view => view.Items.Count > 0,
        _ => true,
    };

    public static bool IsNumber(object? value) => value is long or double or bool;

    public static double ToDouble(object? value) => value switch
    {
        long l => l,
        double d => d,
        bool b => b ? 1 : 0,
        _ => throw new ChatTemplateException($"must be real number, not {PyFormat.TypeName(value)}"),
    };

    /// <summary>An int operand (bool included), or null when the value is not one.</summary>
    public static long? AsInt(object? value) => value switch
    {
        long l => l,
        bool b => b ? 1 : 0,
        _ => null,
    };

    public static bool AreEqual(object? a, object? b)
    {
        if (IsNumber(a) && IsNumber(b))
            return AsInt(a) is { } x && AsInt(b) is { } y ? x == y : ToDouble(a) == ToDouble(b);
        return (a, b) switch
        {
            (null, null) => true,
            (Undefined, Undefined) => true,
            (string x, string y) => string.Equals(x, y, StringComparison.Ordinal),
            (PyList x, PyList y) => x.IsTuple == y.IsTuple && x.Count == y.Count && x.Zip(y).All(p => AreEqual(p.First, p.Second)),
            (PyDict x, PyDict y) => x.Count == y.Count
                && x.Pairs.All(p => y.TryGet(p.Key, out var other) && AreEqual(p.Value, other)),
            _ => ReferenceEquals(a, b),
        };
    }

    /// <summary>Python ordering for &lt; &gt; and sorting: numbers, strings, same-kind sequences.</summary>
    public static int Compare(object? a, object? b, string op = "<")
    {
        if (a is Undefined u) throw u.Fail();
        if (b is Undefined v) throw v.Fail();
        if (IsNumber(a) && IsNumber(b))
            return AsInt(a) is { } x && AsInt(b) is { } y ? x.CompareTo(y) : ToDouble(a).CompareTo(ToDouble(b));
        switch (a, b)
        {
            case (string x, string y):
                return PyString.CompareCodePoints(x, y);
            case (PyList x, PyList y) when x.IsTuple == y.IsTuple:
                for (var i = 0; i < Math.Min(x.Count, y.Count); i++)
                {
                    if (!AreEqual(x[i], y[i])) return Compare(x[i], y[i], op);
                }
                return x.Count.CompareTo(y.Count);
            default:
                throw new ChatTemplateException(
                    $"'{op}' not supported between instances of '{PyFormat.TypeName(a)}' and '{PyFormat.TypeName(b)}'");
        }
    }

    public static IReadOnlyList<object?> Iterate(object? value) => value switch
    {
        PyList list => list.Items,
        PyDict dict => dict.Keys.ToArray(),
        string s => PyString.Characters(s),
        PyIterator iterator => iterator.Drain(),
        PyDictView view => view.Items,
        Undefined => [],
        _ => throw new ChatTemplateException($"'{PyFormat.TypeName(value)}' object is not iterable"),
    };

    public static int Length(object? value) => value switch
    {
        string s => PyString.Length(s),
        PyList list => list.Count,
        PyDict dict => dict.Count,
        PyDictView view => view.Items.Count,
        Undefined => 0,
        _ => throw new ChatTemplateException($"object of type '{PyFormat.TypeName(value)}' has no len()"),
    };

    public static bool Contains(object? container, object? item) => container switch
    {
        string s when item is string sub => s.Contains(sub, StringComparison.Ordinal),
        string => throw new ChatTemplateException($"'in <string>' requires string as left operand, not {PyFormat.TypeName(item)}"),
        PyList list => list.Any(x => AreEqual(x, item)),
        PyDictView view => view.Items.Any(x => AreEqual(x, item)),
        PyDict when item is PyList { IsTuple: false } or PyDict => throw new ChatTemplateException($"unhashable type: '{PyFormat.TypeName(item)}'"),
        PyDict dict => dict.ContainsKey(item),
        PyIterator iterator => ConsumeUntil(iterator, item),
        Undefined => false,
        _ => throw new ChatTemplateException($"argument of type '{PyFormat.TypeName(container)}' is not iterable"),
    };

    /// <summary>Python's <c>x in iterator</c>: consumes items up to and including the first match.</summary>
    private static bool ConsumeUntil(PyIterator iterator, object? item)
    {
        while (iterator.TryNext(out var next))
        {
            if (AreEqual(next, item)) return true;
        }
        return false;
    }

    /// <summary>
    /// Python's sorted(items, key=key, reverse=reverse). Binary insertion, as CPython sorts
    /// short lists: stable (also in reverse, by sorting the reversed list and reversing back),
    /// and comparing "new &lt; placed", so a mixed-type error names the types in Python's order.
    /// </summary>
    public static object?[] Sorted(IEnumerable<object?> items, Func<object?, object?> key, bool reverse = false)
    {
        var keyed = items.Select(item => (Key: key(item), Item: item)).ToList();
        if (reverse) keyed.Reverse();
        for (var i = 1; i < keyed.Count; i++)
        {
            var pivot = keyed[i];
            int low = 0, high = i;
            while (low < high)
            {
                var mid = (low + high) / 2;
                if (Compare(pivot.Key, keyed[mid].Key) < 0) high = mid;
                else low = mid + 1;
            }
            keyed.RemoveAt(i);
            keyed.Insert(low, pivot);
        }
        if (reverse) keyed.Reverse();
        return keyed.Select(k => k.Item).ToArray();
    }
}
