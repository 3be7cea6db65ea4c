namespace LlmEngine.Host.Chat;

/// <summary>
/// Jinja's default <c>Undefined</c>: renders empty, is falsy, iterates as empty and has length 0,
/// but attribute access, subscripting, calling and arithmetic on it fail with a message that
/// names what was missing.
/// </summary>
internal sealed class Undefined
{
    private readonly string _message;

    private Undefined(string message) => _message = message;

    public static Undefined Name(string name) => new($"'{name}' is undefined");

    public static Undefined Attribute(object? owner, object? key) =>
        key is string s
            ? new($"'{Describe(owner)}' has no attribute '{s}'")
            : new($"{Describe(owner)} has no element {PyFormat.Repr(key)}");

    // Jinja's object_type_repr: "None" for None, "<type> object" otherwise.
    private static string Describe(object? owner) =>
        owner is null ? "None" : $"{PyFormat.TypeName(owner)} object";

    public static Undefined Hint(string message) => new(message);

    public ChatTemplateException Fail() => new(_message);
}
