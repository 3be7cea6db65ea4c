namespace LlmEngine.Host.Chat;

/// <summary>
/// A frame of template variables. Jinja gives every loop iteration, macro call and
/// <c>with</c> block a fresh child frame: reads fall through to the parent, writes stay local,
/// which is why <c>set</c> inside a loop does not survive it (and namespace() exists).
/// </summary>
internal sealed class Scope(Scope? parent = null)
{
    private readonly Scope? _parent = parent;
    private readonly Dictionary<string, object?> _variables = new(StringComparer.Ordinal);

    public object? Lookup(string name)
    {
        for (var scope = this; scope is not null; scope = scope._parent)
        {
            if (scope._variables.TryGetValue(name, out var value)) return value;
        }
        return Undefined.Name(name);
    }

    public void Set(string name, object? value) => _variables[name] = value;
}
