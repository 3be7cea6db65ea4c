namespace LlmEngine.Host.Api.Tools;

/// <summary>What a model's text says so far: the content to show (growing only by appending) and
/// the tool calls it makes.</summary>
internal sealed record ToolParse(string? Content, IReadOnlyList<ParsedCall> Calls);

/// <summary>
/// Reads tool calls out of a model's output. <see cref="Parse"/> is given the whole text so far
/// (<paramref name="final"/>: the output is complete), so that a stream and a non-streamed
/// response read the same calls; while the output is open, text that may still become a tool-call
/// marker is held back from the content.
/// </summary>
internal interface IToolCallParser
{
    ToolParse Parse(string text, bool final);
}

/// <summary>The parsers <c>--tool-call-parser</c> names, as vLLM names them.</summary>
internal static class ToolCallParsers
{
    public static readonly IReadOnlyDictionary<string, IToolCallParser> ByName = new Dictionary<string, IToolCallParser>
    {
        ["hermes"] = new MarkedToolCallParser("<tool_call>", "arguments"),
        ["mistral"] = new MarkedToolCallParser("[TOOL_CALLS]", "arguments"),
        ["llama3_json"] = new Llama3JsonToolParser(),
    };

    /// <summary>The parser of this name, or an error naming those there are.</summary>
    public static IToolCallParser Named(string name) => ByName.TryGetValue(name, out var parser) ? parser
        : throw new ArgumentException($"Unknown --tool-call-parser '{name}'; choose one of: {string.Join(", ", ByName.Keys)}.");

    /// <summary>How much of <paramref name="text"/> can be shown while it is open: all but a tail
    /// that is the start of <paramref name="marker"/>.</summary>
    public static int Settled(string text, string marker)
    {
        for (var keep = Math.Min(marker.Length - 1, text.Length); keep > 0; keep--)
            if (text.EndsWith(marker[..keep], StringComparison.Ordinal)) return text.Length - keep;
        return text.Length;
    }
}

/// <summary>
/// Formats where content may come first and the calls follow a marker: Hermes (Qwen, Hermes:
/// <c>&lt;tool_call&gt;{"name": ..., "arguments": {...}}&lt;/tool_call&gt;</c>, one tag per call) and
/// Mistral (<c>[TOOL_CALLS][{"name": ..., "arguments": {...}}, ...]</c>). As vLLM does, a finished
/// output whose calls do not parse is returned whole as content.
/// </summary>
internal sealed class MarkedToolCallParser(string marker, string argumentKey) : IToolCallParser
{
    public ToolParse Parse(string text, bool final)
    {
        var at = text.IndexOf(marker, StringComparison.Ordinal);
        if (at < 0) return new(final ? text : text[..ToolCallParsers.Settled(text, marker)], []);
        var (calls, wellFormed) = CallObjectScanner.Scan(text, at + marker.Length, argumentKey);
        if (final && !wellFormed) return new(text, []);
        return new(at > 0 ? text[..at] : null, calls);
    }
}

/// <summary>
/// Llama 3.x JSON tool calls: the output is the calls (<c>{"name": ..., "parameters": {...}}</c>,
/// several separated by <c>; </c>), optionally after <c>&lt;|python_tag|&gt;</c>, or it is plain
/// content; as in vLLM, only an output that starts so is read as calls.
/// </summary>
internal sealed class Llama3JsonToolParser : IToolCallParser
{
    private const string PythonTag = "<|python_tag|>";

    public ToolParse Parse(string text, bool final)
    {
        int start;
        if (text.StartsWith(PythonTag, StringComparison.Ordinal)) start = PythonTag.Length;
        else if (text.StartsWith('{')) start = 0;
        else if (!final && PythonTag.StartsWith(text, StringComparison.Ordinal)) return new(null, []);
        else return new(text, []);
        var (calls, wellFormed) = CallObjectScanner.Scan(text, start, "arguments", "parameters");
        return final && !wellFormed ? new(text, []) : new(null, calls);
    }
}

/// <summary><c>tool_choice: "required"</c>: the output is constrained to a JSON list of
/// <c>{"name": ..., "parameters": {...}}</c>, as vLLM constrains it. A call cut short (max_tokens)
/// is left out of the finished output.</summary>
internal sealed class RequiredToolCallParser : IToolCallParser
{
    public ToolParse Parse(string text, bool final)
    {
        var calls = CallObjectScanner.Scan(text, 0, "parameters").Calls;
        return new(null, final ? [.. calls.Where(c => c.Complete)] : calls);
    }
}

/// <summary>A named function in <c>tool_choice</c>: the output is constrained to its arguments.</summary>
internal sealed class NamedToolCallParser(string name) : IToolCallParser
{
    public ToolParse Parse(string text, bool final) => new(null, [new ParsedCall(name, text.TrimStart(), final)]);
}
