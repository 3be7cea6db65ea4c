namespace LlmEngine.Host.Chat;

/// <summary>
/// Jinja's <c>namespace(...)</c>: the one mutable object templates get, so that values set inside
/// a loop body (whose own <c>set</c>s do not leak) survive the loop.
/// </summary>
internal sealed class Namespace
{
    public OrderedDictionary<string, object?> Attributes { get; } = new(StringComparer.Ordinal);
}
