namespace LlmEngine.Host.Chat;

/// <summary>A slice key <c>[start:stop:step]</c>, each part an int or None.</summary>
internal sealed record PySlice(object? Start, object? Stop, object? Step);

/// <summary>
/// <c>a.b</c> and <c>a[b]</c> as Jinja's sandbox resolves them: <c>.</c> tries the Python
/// attribute (a method such as <c>items</c>) before the dict key; <c>[]</c> tries the key first.
/// Whatever is missing becomes undefined, except on undefined itself, which fails.
/// </summary>
internal static class PyAccess
{
    public static object? GetAttr(object? target, string name)
    {
        if (target is Undefined u) throw u.Fail();
        if (TryAttribute(target, name, out var value)) return value;
        return TryItem(target, name, out value) ? value : Undefined.Attribute(target, name);
    }

    public static object? GetItem(object? target, object? key)
    {
        if (target is Undefined u) throw u.Fail();
        if (key is PySlice slice) return SliceOf(target, slice);
        if (TryItem(target, key, out var value)) return value;
        if (key is string name && TryAttribute(target, name, out value)) return value;
        return Undefined.Attribute(target, key);
    }

    private static bool TryAttribute(object? target, string name, out object? value)
    {
        switch (target)
        {
            case Namespace ns:
                return ns.Attributes.TryGetValue(name, out value);
            case LoopContext loop:
                return loop.TryAttribute(name, out value);
            default:
                value = PyMethods.Find(target, name);
                return value is not null;
        }
    }

    private static bool TryItem(object? target, object? key, out object? value)
    {
        value = null;
        switch (target)
        {
            case PyDict dict:
                return dict.TryGet(key, out value);
            case PyList list when PyOps.AsInt(key) is { } index:
                return TryIndex(list.Items, index, out value);
            case string s when PyOps.AsInt(key) is { } index:
                return TryIndex(PyString.Characters(s), index, out value);
            default:
                return false;
        }
    }

    /// <summary>Jinja compiles slices to plain Python subscripts, so a bad target fails rather than being undefined.</summary>
    private static object? SliceOf(object? target, PySlice slice) => target switch
    {
        PyList list => new PyList(Slice(list.Items, slice), list.IsTuple),
        string s => string.Concat(Slice(PyString.Characters(s), slice)),
        PyDict => throw new ChatTemplateException("unhashable type: 'slice'"),
        _ => throw new ChatTemplateException($"'{PyFormat.TypeName(target)}' object is not subscriptable"),
    };

    private static bool TryIndex<T>(IReadOnlyList<T> items, long index, out object? value)
    {
        if (index < 0) index += items.Count;
        var inRange = index >= 0 && index < items.Count;
        value = inRange ? items[(int)index] : null;
        return inRange;
    }

    /// <summary>Python slice semantics: clamped bounds, negative indices from the end, any non-zero step.</summary>
    private static List<T> Slice<T>(IReadOnlyList<T> items, PySlice slice)
    {
        var length = items.Count;
        var step = SliceBound(slice.Step) ?? 1;
        if (step == 0) throw new ChatTemplateException("slice step cannot be zero");
        long lower = step < 0 ? -1 : 0, upper = step < 0 ? length - 1 : length;
        long Clamp(long? bound, long fallback) => bound is not { } b ? fallback
            : b < 0 ? Math.Max(b + length, lower) : Math.Min(b, upper);
        var start = Clamp(SliceBound(slice.Start), step < 0 ? upper : lower);
        var stop = Clamp(SliceBound(slice.Stop), step < 0 ? lower : upper);
        var result = new List<T>();
        for (var i = start; step > 0 ? i < stop : i > stop; i += step) result.Add(items[(int)i]);
        return result;
    }

    private static long? SliceBound(object? bound) => bound switch
    {
        null => null,
        _ when PyOps.AsInt(bound) is { } i => i,
        _ => throw new ChatTemplateException("slice indices must be integers or None or have an __index__ method"),
    };
}
