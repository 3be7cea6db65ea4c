using System.Collections;

namespace LlmEngine.Host.Chat;

/// <summary>
/// A Python list or tuple. The sandbox HF uses is immutable, so templates never mutate one;
/// the tuple flag only changes how it prints and compares.
/// </summary>
internal sealed class PyList(IReadOnlyList<object?> items, bool isTuple = false) : IReadOnlyList<object?>
{
    public static readonly PyList Empty = new([]);

    public IReadOnlyList<object?> Items { get; } = items;

    public bool IsTuple { get; } = isTuple;

    public int Count => Items.Count;

    public object? this[int index] => Items[index];

    public static PyList Tuple(params object?[] items) => new(items, isTuple: true);

    public IEnumerator<object?> GetEnumerator() => Items.GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}
