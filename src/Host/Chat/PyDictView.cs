namespace LlmEngine.Host.Chat;

/// <summary>
/// What <c>dict.items()</c>, <c>keys()</c> and <c>values()</c> return: iterable and sized like a
/// list, but printed as <c>dict_items([...])</c>, not subscriptable and not JSON-serializable.
/// </summary>
internal sealed class PyDictView(string kind, IReadOnlyList<object?> items)
{
    public IReadOnlyList<object?> Items { get; } = items;

    public string TypeName => "dict_" + kind;

    /// <summary>Python's type for reversed(view): dict_reverseitemiterator and so on.</summary>
    public string ReversedTypeName => $"dict_reverse{kind[..^1]}iterator";
}
