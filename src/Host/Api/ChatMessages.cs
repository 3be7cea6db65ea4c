using System.Text.Json;
using LlmEngine.Host.Chat;

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
            result[p.Name] = p.Name == "content" ? Content(p.Value) : ChatTemplate.FromJson(p.Value);
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
}
