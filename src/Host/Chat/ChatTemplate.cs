using System.Text.Json;

namespace LlmEngine.Host.Chat;

/// <summary>
/// A Hugging Face chat template (Jinja2), rendered exactly as transformers'
/// <c>apply_chat_template</c> renders it: sandboxed, trim_blocks and lstrip_blocks on, loop
/// controls, <c>raise_exception</c>, and <c>tojson</c> without ASCII escaping.
/// Parse once, render per request; a parsed template is immutable and thread-safe.
/// </summary>
/// <example>
/// <code>
/// var template = ChatTemplate.Parse(tokenizerConfig.ChatTemplate);
/// var prompt = template.Render(ChatTemplate.MessagesFromJson(body.GetProperty("messages")), addGenerationPrompt: true,
///     new Dictionary&lt;string, object?&gt; { ["bos_token"] = "&lt;s&gt;", ["eos_token"] = "&lt;/s&gt;", ["tools"] = null });
/// </code>
/// </example>
internal sealed class ChatTemplate
{
    private readonly IReadOnlyList<Node> _body;

    private ChatTemplate(IReadOnlyList<Node> body) => _body = body;

    /// <summary>Parses template source; throws <see cref="ChatTemplateException"/> (with the line) on syntax errors.</summary>
    public static ChatTemplate Parse(string source)
    {
        ArgumentNullException.ThrowIfNull(source);
        return new ChatTemplate(Parser.Parse(source));
    }

    /// <summary>
    /// Renders the conversation. <paramref name="variables"/> become template variables
    /// (bos_token, eos_token, tools, documents, anything the template reads); values may be
    /// strings, numbers, bools, null, dictionaries, lists or <see cref="JsonElement"/>s.
    /// Variables not given are undefined, as with jinja2's render(); transformers passes
    /// <c>tools</c> and <c>documents</c> as None when absent, so pass them as null to match it.
    /// <c>messages</c> and <c>add_generation_prompt</c> always come from the parameters.
    /// Throws <see cref="ChatTemplateException"/> when the template raises or fails.
    /// </summary>
    public string Render(
        IReadOnlyList<IReadOnlyDictionary<string, object?>> messages,
        bool addGenerationPrompt,
        IReadOnlyDictionary<string, object?>? variables = null)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var scope = new Scope(Globals.Create());
        foreach (var (name, value) in variables ?? new Dictionary<string, object?>())
            scope.Set(name, ClrValues.ToTemplate(value));
        scope.Set("messages", ClrValues.ToTemplate(messages));
        scope.Set("add_generation_prompt", addGenerationPrompt);
        return Renderer.Render(_body, scope);
    }

    /// <summary>
    /// Converts JSON to plain values the way Python's json.loads types them (key order kept,
    /// 1 an int, 1.0 a float), for passing request fields such as tools as variables.
    /// </summary>
    public static object? FromJson(JsonElement element) => ClrValues.FromJson(element);

    /// <summary>Converts a JSON array of message objects (an OpenAI request's <c>messages</c>) for <see cref="Render"/>.</summary>
    public static IReadOnlyList<IReadOnlyDictionary<string, object?>> MessagesFromJson(JsonElement messages)
    {
        if (messages.ValueKind != JsonValueKind.Array) throw new ArgumentException("messages must be a JSON array", nameof(messages));
        return messages.EnumerateArray()
            .Select(m => FromJson(m) as IReadOnlyDictionary<string, object?>
                ?? throw new ArgumentException("each message must be a JSON object", nameof(messages)))
            .ToList();
    }
}
