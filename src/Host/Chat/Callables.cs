namespace LlmEngine.Host.Chat;

/// <summary>Arguments of a call as written in the template: positional, then keyword in order.</summary>
internal sealed record CallArgs(IReadOnlyList<object?> Positional, IReadOnlyList<KeyValuePair<string, object?>> Keywords)
{
    public static readonly CallArgs None = new([], []);

    /// <summary>The parameter at <paramref name="index"/> given positionally or by <paramref name="name"/>.</summary>
    public bool TryGet(int index, string name, out object? value)
    {
        if (index < Positional.Count)
        {
            value = Positional[index];
            return true;
        }
        return TryGetKeyword(name, out value);
    }

    public bool TryGetKeyword(string name, out object? value)
    {
        foreach (var (key, v) in Keywords)
        {
            if (key == name)
            {
                value = v;
                return true;
            }
        }
        value = null;
        return false;
    }

    public object? Get(int index, string name, object? fallback = null) =>
        TryGet(index, name, out var value) ? value : fallback;
}

/// <summary>Anything a template can call: macros, globals, bound methods, loop.cycle.</summary>
internal sealed class Function(string name, Func<CallArgs, object?> body)
{
    public string Name { get; } = name;

    public object? Call(CallArgs args) => body(args);
}
