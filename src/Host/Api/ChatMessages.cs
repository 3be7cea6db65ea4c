using System.Text.Json;

namespace LlmEngine.Host.Api;

/// <summary>Reads OpenAI chat messages into the plain dictionaries a chat template sees. Content
/// is a string, or a list of text parts joined by newlines (vLLM's "string" content format);
/// other fields (name, tool_calls, ...) pass through as plain values.</summary>
public static class ChatMessages
{
    public static IReadOnlyList<IReadOnlyDictionary<string, object?>> Read(JsonElement body)
    {
        if (JsonFields.Get(body, "messages") is not { } messages)
            throw ApiException.BadRequest("'messages' is required.", "messages");
        if (messages.ValueKind != JsonValueKind.Array)
            throw JsonFields.WrongType("messages", "a list of messages", messages);
        if (messages.GetArrayLength() == 0)
            throw ApiException.BadRequest("'messages' cannot be empty.", "messages");
        return [.. messages.EnumerateArray().Select(Message)];
    }

    private static IReadOnlyDictionary<string, object?> Message(JsonElement m)
    {
        if (m.ValueKind != JsonValueKind.Object) throw JsonFields.WrongType("messages", "a list of message objects", m);
        if (JsonFields.String(m, "role") is not { Length: > 0 }) throw ApiException.BadRequest("Each message needs a 'role'.", "messages");
        var result = new Dictionary<string, object?>();
        foreach (var p in m.EnumerateObject())
            result[p.Name] = p.Name == "content" ? Content(p.Value) : Plain(p.Value);
        return result;
    }

    private static string? Content(JsonElement content) => content.ValueKind switch
    {
        JsonValueKind.Null => null,
        JsonValueKind.String => content.GetString(),
        JsonValueKind.Array => string.Join("\n", content.EnumerateArray().Select(TextPart)),
        _ => throw JsonFields.WrongType("content", "a string or a list of content parts", content),
    };

    private static string TextPart(JsonElement part)
    {
        if (part.ValueKind == JsonValueKind.String) return part.GetString()!;
        if (part.ValueKind != JsonValueKind.Object) throw JsonFields.WrongType("content", "a list of content parts", part);
        var type = JsonFields.String(part, "type") ?? "text";
        if (type != "text") throw ApiException.BadRequest($"Content parts of type '{type}' are not supported; only text.", "content");
        return JsonFields.String(part, "text") ?? throw ApiException.BadRequest("A text content part needs 'text'.", "content");
    }

    /// <summary>A JSON value as plain .NET values: string, long or double, bool, null, lists and dictionaries.</summary>
    public static object? Plain(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.String => e.GetString(),
        JsonValueKind.Number => e.TryGetInt64(out var l) ? l : e.GetDouble(),
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        JsonValueKind.Array => e.EnumerateArray().Select(Plain).ToList(),
        JsonValueKind.Object => e.EnumerateObject().ToDictionary(p => p.Name, p => Plain(p.Value)),
        _ => null,
    };
}
