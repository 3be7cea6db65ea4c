using System.Text.Json;
using System.Text.Json.Nodes;
using LlmEngine.Host.Chat;

namespace LlmEngine.Host.Api;

/// <summary>Reads OpenAI chat messages into the plain dictionaries a chat template sees. Content
/// is a string, or a list of text parts joined by newlines (vLLM's "string" content format);
/// an assistant's tool_calls reach the template with their arguments as objects (as vLLM passes
/// them, for templates that write <c>arguments | tojson</c>); other fields (name, tool_call_id,
/// ...) pass through as plain values.</summary>
internal static class ChatMessages
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
            result[p.Name] = p.Name switch
            {
                "content" => Content(p.Value),
                "tool_calls" when p.Value.ValueKind == JsonValueKind.Array => ToolCalls(p.Value),
                _ => ChatTemplate.FromJson(p.Value),
            };
        return result;
    }

    private static object? ToolCalls(JsonElement calls)
    {
        var list = JsonNode.Parse(calls.GetRawText())!.AsArray();
        foreach (var call in list)
            if (call?["function"] is JsonObject function && function["arguments"] is JsonValue v && v.TryGetValue<string>(out var text) && ParsedObject(text) is { } parsed)
                function["arguments"] = parsed;
        using var doc = JsonDocument.Parse(list.ToJsonString());
        return ChatTemplate.FromJson(doc.RootElement);
    }

    private static JsonObject? ParsedObject(string text)
    {
        try { return JsonNode.Parse(text) as JsonObject; }
        catch (JsonException) { return null; }
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
