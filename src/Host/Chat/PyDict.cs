namespace LlmEngine.Host.Chat;

/// <summary>
/// A Python dict: insertion-ordered (tojson and items() depend on it) with Python key equality,
/// so 1, 1.0 and True are the same key.
/// </summary>
internal sealed class PyDict
{
    private readonly OrderedDictionary<object, object?> _items = new(PyKeyComparer.Instance);

    public int Count => _items.Count;

    public IEnumerable<object> Keys => _items.Keys;

    public IEnumerable<object?> Values => _items.Values;

    public IEnumerable<KeyValuePair<object, object?>> Pairs => _items;

    public bool TryGet(object? key, out object? value)
    {
        value = null;
        return key is not null && IsHashable(key) && _items.TryGetValue(key, out value);
    }

    public bool ContainsKey(object? key) => TryGet(key, out _);

    /// <summary>Only used while building a dict (literals, conversions): templates cannot mutate one.</summary>
    public void Set(object? key, object? value)
    {
        if (key is null || !IsHashable(key))
            throw new ChatTemplateException($"unhashable type: '{PyFormat.TypeName(key)}'");
        _items[key] = value;
    }

    private static bool IsHashable(object key) =>
        key is string or long or double or bool || key is PyList { IsTuple: true };

    private sealed class PyKeyComparer : IEqualityComparer<object>
    {
        public static readonly PyKeyComparer Instance = new();

        public new bool Equals(object? x, object? y) => PyOps.AreEqual(x, y);

        public int GetHashCode(object obj) => obj switch
        {
            string s => string.GetHashCode(s, StringComparison.Ordinal),
            bool b => (b ? 1.0 : 0.0).GetHashCode(),
            long l => ((double)l).GetHashCode(),
            double d => d.GetHashCode(),
            PyList t => t.Aggregate(17, (h, item) => h * 31 + (item is null ? 0 : GetHashCode(item))),
            _ => obj.GetHashCode(),
        };
    }
}
