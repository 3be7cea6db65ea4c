namespace LlmEngine.Host.Chat;

/// <summary>
/// A chat template failed to parse or to render. For <c>raise_exception(msg)</c> the message is
/// exactly the template's text, so callers can surface it to clients unchanged.
/// </summary>
internal sealed class ChatTemplateException : Exception
{
    public ChatTemplateException(string message, int? line = null) : base(message) => Line = line;

    /// <summary>Template line (1-based) the error was found on, when known.</summary>
    public int? Line { get; }

    /// <summary>Syntax errors carry the line in the message as well, as Jinja's do.</summary>
    internal static ChatTemplateException Syntax(string message, int line) =>
        new($"{message} (line {line})", line);
}
