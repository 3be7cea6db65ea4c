namespace LlmEngine.Host.Chat;

/// <summary>
/// A Python iterator, which Jinja's map/select/reject/unique/batch/items/reverse filters return
/// instead of lists. It is lazy (a bad argument only fails once iterated), single-use, always
/// truthy even when empty, and has no length: <c>{% if xs | select('odd') %}</c> is always true.
/// </summary>
internal sealed class PyIterator(IEnumerable<object?> items, string typeName = "generator")
{
    private readonly IEnumerator<object?> _items = items.GetEnumerator();

    public string TypeName { get; } = typeName;

    public bool TryNext(out object? item)
    {
        var more = _items.MoveNext();
        item = more ? _items.Current : null;
        return more;
    }

    /// <summary>The items not consumed yet; afterwards the iterator is exhausted.</summary>
    public List<object?> Drain()
    {
        var rest = new List<object?>();
        while (TryNext(out var item)) rest.Add(item);
        return rest;
    }
}
