namespace LlmEngine.Host.Chat;

/// <summary>The <c>loop</c> variable of a for loop (over the already-filtered items).</summary>
internal sealed class LoopContext(IReadOnlyList<object?> items)
{
    private object? _lastChanged = Undefined.Hint("loop.changed has not been called");

    public int Index0 { get; set; }

    public int Index => Index0 + 1;

    public int Length => items.Count;

    public bool TryAttribute(string name, out object? value)
    {
        value = Attribute(name);
        return !ReferenceEquals(value, Missing);
    }

    /// <summary>Stands for "no such attribute", since an item (previtem, nextitem) may be None.</summary>
    private static readonly object Missing = new();

    private object? Attribute(string name) => name switch
    {
        "index0" => (long)Index0,
        "index" => (long)Index,
        "revindex0" => (long)(Length - Index),
        "revindex" => (long)(Length - Index0),
        "first" => Index0 == 0,
        "last" => Index == Length,
        "length" => (long)Length,
        "previtem" => Index0 > 0 ? items[Index0 - 1] : Undefined.Hint("there is no previous item"),
        "nextitem" => Index < Length ? items[Index] : Undefined.Hint("there is no next item"),
        "depth" => 1L,
        "depth0" => 0L,
        "cycle" => new Function("cycle", Cycle),
        "changed" => new Function("changed", Changed),
        _ => Missing,
    };

    private object? Cycle(CallArgs args)
    {
        if (args.Positional.Count == 0) throw new ChatTemplateException("no items for cycling given");
        return args.Positional[Index0 % args.Positional.Count];
    }

    private object? Changed(CallArgs args)
    {
        var values = new PyList(args.Positional);
        if (PyOps.AreEqual(values, _lastChanged)) return false;
        _lastChanged = values;
        return true;
    }
}
