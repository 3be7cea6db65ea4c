namespace LlmEngine.Host.Api.Tools;

/// <summary>
/// One choice's output as chat deltas while tool calls are read from it, as OpenAI streams them:
/// content as it settles; each call first with its id, type and name (arguments ""), then its
/// arguments in pieces. Each step re-reads the whole text, so the stream sends exactly what the
/// non-streamed response (<see cref="Message"/>) holds.
/// </summary>
internal sealed class ToolCallStream(IToolCallParser parser)
{
    private int _contentSent;
    private readonly List<(string Id, int ArgumentsSent)> _sent = [];

    /// <summary>Whether any call has been sent.</summary>
    public bool Called => _sent.Count > 0;

    public static string NewCallId() => ApiJson.NewId("chatcmpl-tool-");

    /// <summary>The deltas that <paramref name="text"/> (the whole output so far) adds to what was sent.</summary>
    public IReadOnlyList<ChatDelta> Next(string text, bool final)
    {
        var parse = parser.Parse(text, final);
        var deltas = new List<ChatDelta>();
        if (parse.Content is { } content && content.Length > _contentSent)
        {
            deltas.Add(new ChatDelta(null, content[_contentSent..]));
            _contentSent = content.Length;
        }
        for (var i = 0; i < parse.Calls.Count; i++)
        {
            var call = parse.Calls[i];
            // Calls go out in order, each once its name is known.
            if (call.Name is null) break;
            if (i == _sent.Count)
            {
                _sent.Add((NewCallId(), 0));
                deltas.Add(new ChatDelta(null, null, [new ToolCallDelta(i, _sent[i].Id, "function", new ToolCallFunction(call.Name, ""))]));
            }
            if (call.Arguments.Length > _sent[i].ArgumentsSent)
            {
                deltas.Add(new ChatDelta(null, null, [new ToolCallDelta(i, null, null, new ToolCallFunction(null, call.Arguments[_sent[i].ArgumentsSent..]))]));
                _sent[i] = (_sent[i].Id, call.Arguments.Length);
            }
        }
        return deltas;
    }

    /// <summary>A finished output as a message: its content and its calls (those with a name).</summary>
    public static (string? Content, IReadOnlyList<ToolCall>? Calls) Message(IToolCallParser parser, string text)
    {
        var parse = parser.Parse(text, final: true);
        var calls = parse.Calls.Where(c => c.Name is not null)
            .Select(c => new ToolCall(NewCallId(), "function", new ToolCallFunction(c.Name, c.Arguments))).ToList();
        return (parse.Content, calls.Count > 0 ? calls : null);
    }
}
