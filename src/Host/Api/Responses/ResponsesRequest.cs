using System.Text.Json;
using System.Text.Json.Nodes;
using static LlmEngine.Host.Api.JsonFields;

namespace LlmEngine.Host.Api.Responses;

/// <summary>
/// A /v1/responses body translated into the chat request it stands for, as vLLM serves the
/// Responses API on its chat machinery: <c>instructions</c> and <c>input</c> (a string, or items:
/// messages with text parts, <c>function_call</c> and <c>function_call_output</c>) become
/// messages; flat function tools become chat tools; <c>text.format</c> becomes
/// <c>response_format</c>; <c>max_output_tokens</c>, <c>top_logprobs</c> and the sampling fields
/// carry over. Nothing is stored (<c>store: false</c> semantics), so <c>previous_response_id</c>,
/// <c>conversation</c> and item references are refused, as is <c>background</c>.
/// </summary>
internal static class ResponsesRequest
{
    /// <summary>Fields that mean the same on both endpoints (OpenAI's and vLLM's extras).</summary>
    private static readonly string[] Shared =
    [
        "model", "temperature", "top_p", "top_k", "min_p", "seed", "stop", "stop_token_ids", "presence_penalty",
        "frequency_penalty", "repetition_penalty", "logit_bias", "min_tokens", "ignore_eos", "skip_special_tokens",
        "include_stop_str_in_output", "structured_outputs", "chat_template_kwargs", "parallel_tool_calls", "user", "timeout",
    ];

    /// <summary>Chat's field names as this endpoint calls them, for error objects.</summary>
    public static readonly IReadOnlyDictionary<string, string> Renamed = new Dictionary<string, string>
    {
        ["max_tokens"] = "max_output_tokens", ["logprobs"] = "top_logprobs", ["messages"] = "input", ["response_format"] = "text.format",
    };

    public static JsonDocument ToChat(JsonElement body)
    {
        foreach (var stored in new[] { "previous_response_id", "conversation" })
            if (Get(body, stored) is not null)
                throw ApiException.BadRequest($"'{stored}' is not supported: this server stores no responses (store: false).", stored);
        if (Bool(body, "background") == true)
            throw ApiException.BadRequest("'background' is not supported: this server stores no responses.", "background");
        _ = Bool(body, "store");

        var chat = new JsonObject();
        foreach (var name in Shared)
            if (Get(body, name) is { } v) chat[name] = JsonNode.Parse(v.GetRawText());
        chat["messages"] = Messages(body);
        if (Int(body, "max_output_tokens") is { } max) chat["max_tokens"] = max;
        if (Int(body, "top_logprobs") is { } top)
        {
            chat["logprobs"] = true;
            chat["top_logprobs"] = top;
        }
        if (Get(body, "tools") is { } tools) chat["tools"] = Tools(tools);
        if (Get(body, "tool_choice") is { } choice) chat["tool_choice"] = ToolChoice(choice);
        if (Format(body) is { } format) chat["response_format"] = format;
        return JsonDocument.Parse(chat.ToJsonString());
    }

    private static JsonArray Messages(JsonElement body)
    {
        var messages = new JsonArray();
        if (String(body, "instructions") is { } instructions)
            messages.Add(new JsonObject { ["role"] = "system", ["content"] = instructions });
        switch (Get(body, "input"))
        {
            case null:
                throw ApiException.BadRequest("'input' is required.", "input");
            case { ValueKind: JsonValueKind.String } text:
                messages.Add(new JsonObject { ["role"] = "user", ["content"] = text.GetString() });
                break;
            case { ValueKind: JsonValueKind.Array } items:
                var i = 0;
                foreach (var item in items.EnumerateArray()) Item(item, $"input[{i++}]", messages);
                break;
            case var other:
                throw WrongType("input", "a string or a list of input items", other.Value);
        }
        if (messages.Count == 0) throw ApiException.BadRequest("'input' cannot be empty.", "input");
        return messages;
    }

    private static void Item(JsonElement item, string where, JsonArray messages)
    {
        if (item.ValueKind != JsonValueKind.Object) throw WrongType(where, "an input item object", item);
        var type = String(item, "type") ?? "message";
        switch (type)
        {
            case "message":
                var role = String(item, "role") ?? throw ApiException.BadRequest($"'{where}.role' is required.", "input");
                if (role is not ("user" or "assistant" or "system" or "developer"))
                    throw ApiException.BadRequest($"'{where}.role' must be \"user\", \"assistant\", \"system\" or \"developer\", got '{ApiException.Echo(role)}'.", "input");
                // Chat templates know "system"; OpenAI's "developer" is its newer name.
                messages.Add(new JsonObject { ["role"] = role == "developer" ? "system" : role, ["content"] = Content(item, where) });
                break;
            case "function_call":
                var call = new JsonObject
                {
                    ["id"] = Required(item, "call_id", where),
                    ["type"] = "function",
                    ["function"] = new JsonObject { ["name"] = Required(item, "name", where), ["arguments"] = Required(item, "arguments", where) },
                };
                // Calls in a row are one assistant turn, as a chat message holds them.
                if (messages.Count > 0 && messages[^1] is JsonObject { } last && (string?)last["role"] == "assistant")
                {
                    if (last["tool_calls"] is not JsonArray calls) last["tool_calls"] = calls = [];
                    calls.Add(call);
                }
                else messages.Add(new JsonObject { ["role"] = "assistant", ["content"] = null, ["tool_calls"] = new JsonArray(call) });
                break;
            case "function_call_output":
                messages.Add(new JsonObject
                {
                    ["role"] = "tool",
                    ["tool_call_id"] = Required(item, "call_id", where),
                    ["content"] = Get(item, "output") is { ValueKind: JsonValueKind.String } o ? o.GetString() : Content(item, where, "output"),
                });
                break;
            case "reasoning":
                // A reasoning item sent back carries nothing a chat template renders.
                break;
            case "item_reference":
                throw ApiException.BadRequest($"'{where}' is an item reference; this server stores no items (store: false).", "input");
            default:
                throw ApiException.BadRequest($"Input items of type '{ApiException.Echo(type)}' are not supported; use message, function_call or function_call_output.", "input");
        }
    }

    /// <summary>A message's content: a string, or text parts (input_text, output_text) joined.</summary>
    private static string Content(JsonElement item, string where, string field = "content")
    {
        switch (Get(item, field))
        {
            case { ValueKind: JsonValueKind.String } s:
                return s.GetString()!;
            case { ValueKind: JsonValueKind.Array } parts:
                var texts = new List<string>();
                foreach (var part in parts.EnumerateArray())
                {
                    var type = part.ValueKind == JsonValueKind.Object ? String(part, "type") : null;
                    if (type is not ("input_text" or "output_text" or "text"))
                        throw ApiException.BadRequest($"'{where}.{field}' parts must be text (input_text or output_text), got {(type is null ? "another kind" : $"'{ApiException.Echo(type)}'")}.", "input");
                    texts.Add(String(part, "text") ?? throw ApiException.BadRequest($"A text part in '{where}.{field}' needs 'text'.", "input"));
                }
                return string.Join("\n", texts);
            case null:
                throw ApiException.BadRequest($"'{where}.{field}' is required.", "input");
            case var other:
                throw WrongType($"{where}.{field}", "a string or a list of text parts", other.Value);
        }
    }

    private static string Required(JsonElement item, string name, string where) =>
        String(item, name) ?? throw ApiException.BadRequest($"'{where}.{name}' is required.", "input");

    /// <summary>Flat function tools (<c>{"type": "function", "name", "parameters", ...}</c>) as
    /// chat's nested ones; other tool types (web search, file search, ...) are refused.</summary>
    private static JsonArray Tools(JsonElement tools)
    {
        if (tools.ValueKind != JsonValueKind.Array) throw WrongType("tools", "a list of tools", tools);
        var result = new JsonArray();
        var i = 0;
        foreach (var tool in tools.EnumerateArray())
        {
            var where = $"tools[{i++}]";
            if (tool.ValueKind != JsonValueKind.Object) throw WrongType(where, "a tool object", tool);
            if (String(tool, "type") is var type && type != "function")
                throw ApiException.BadRequest($"'{where}.type' must be \"function\" (the only tool type this server runs), got {(type is null ? "none" : $"'{ApiException.Echo(type)}'")}.", "tools");
            var function = new JsonObject();
            foreach (var p in tool.EnumerateObject())
                if (p.Name != "type") function[p.Name] = JsonNode.Parse(p.Value.GetRawText());
            result.Add(new JsonObject { ["type"] = "function", ["function"] = function });
        }
        return result;
    }

    /// <summary>"none", "auto", "required", or <c>{"type": "function", "name"}</c> as chat names a function.</summary>
    private static JsonNode ToolChoice(JsonElement choice)
    {
        if (choice.ValueKind != JsonValueKind.Object) return JsonNode.Parse(choice.GetRawText())!;
        if (String(choice, "type") != "function")
            throw ApiException.BadRequest("'tool_choice' must be \"none\", \"auto\", \"required\" or {\"type\": \"function\", \"name\": ...}.", "tool_choice");
        var name = Get(choice, "name") is { } n ? JsonNode.Parse(n.GetRawText()) : null;
        return new JsonObject { ["type"] = "function", ["function"] = new JsonObject { ["name"] = name } };
    }

    /// <summary><c>text.format</c> as chat's <c>response_format</c>.</summary>
    private static JsonObject? Format(JsonElement body)
    {
        if (Get(body, "text") is not { } text) return null;
        if (text.ValueKind != JsonValueKind.Object) throw WrongType("text", "an object", text);
        if (Get(text, "format") is not { } format) return null;
        if (format.ValueKind != JsonValueKind.Object) throw WrongType("text.format", "an object", format);
        switch (String(format, "type"))
        {
            case "text":
                return null;
            case "json_object":
                return new JsonObject { ["type"] = "json_object" };
            case "json_schema":
                var schema = new JsonObject();
                foreach (var name in new[] { "name", "schema", "strict", "description" })
                    if (Get(format, name) is { } v) schema[name] = JsonNode.Parse(v.GetRawText());
                return new JsonObject { ["type"] = "json_schema", ["json_schema"] = schema };
            case var type:
                throw ApiException.BadRequest($"text.format type {(type is null ? "is required" : $"'{ApiException.Echo(type)}' is not supported")}; use 'text', 'json_object' or 'json_schema'.", "text.format");
        }
    }
}
