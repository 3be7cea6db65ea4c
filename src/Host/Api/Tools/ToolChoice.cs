using System.Text.Json;
using System.Text.Json.Nodes;
using LlmEngine.Kernels.Structured;
using static LlmEngine.Host.Api.JsonFields;

namespace LlmEngine.Host.Api.Tools;

/// <summary>A function the client offers: its name and its parameters' JSON Schema (null: none).</summary>
internal sealed record ToolFunction(string Name, JsonObject? Parameters);

/// <summary>
/// A chat request's <c>tools</c> and <c>tool_choice</c>, checked as vLLM checks them: tools is a
/// list of <c>{"type": "function", "function": {"name", "parameters"?}}</c>; tool_choice is
/// "none", "auto" (the default when tools are given), "required" or
/// <c>{"type": "function", "function": {"name"}}</c> naming one of them; "auto" needs the server's
/// <c>--enable-auto-tool-choice</c> and <c>--tool-call-parser</c>. "required" and a named function
/// constrain the output (<see cref="Constraint"/>); "auto" reads the model's own format.
/// </summary>
internal sealed class ToolChoice
{
    private const string NamedUsage = "Correct usage: `{\"type\": \"function\", \"function\": {\"name\": \"my_function\"}}`";

    private ToolChoice(IReadOnlyList<ToolFunction> tools, string mode, string? named, IToolCallParser? parser) =>
        (Tools, Mode, Named, Parser) = (tools, mode, named, parser);

    /// <summary>parallel_tool_calls: false limits "required" to one call.</summary>
    public bool Parallel { get; private init; } = true;

    public IReadOnlyList<ToolFunction> Tools { get; }
    /// <summary>"none", "auto", "required" or "named".</summary>
    public string Mode { get; }
    public string? Named { get; }
    /// <summary>How the output is read into calls; null: it is plain content.</summary>
    public IToolCallParser? Parser { get; }

    /// <summary>Reads the fields; <paramref name="autoParser"/> is the server's
    /// <c>--tool-call-parser</c> when <c>--enable-auto-tool-choice</c> is on, else null.</summary>
    public static ToolChoice Read(JsonElement body, IToolCallParser? autoParser)
    {
        var tools = ReadTools(body);
        var parallel = Bool(body, "parallel_tool_calls") ?? true;
        var choice = Get(body, "tool_choice");
        string mode;
        string? named = null;
        if (choice is null) mode = tools is { Count: > 0 } ? "auto" : "none";
        else if (choice.Value.ValueKind == JsonValueKind.String)
        {
            mode = choice.Value.GetString()!;
            if (mode is not ("none" or "auto" or "required"))
                throw ApiException.BadRequest($"Invalid value for `tool_choice`: {ApiException.Echo(mode)}! Only named tools, \"none\", \"auto\" or \"required\" are supported.", "tool_choice");
        }
        else if (choice.Value.ValueKind == JsonValueKind.Object)
        {
            mode = "named";
            named = NamedFunction(choice.Value);
        }
        else throw WrongType("tool_choice", "\"none\", \"auto\", \"required\" or a named function", choice.Value);

        if (mode == "none") return new(tools ?? [], mode, null, null);
        if (tools is null) throw ApiException.BadRequest("When using `tool_choice`, `tools` must be set.", "tool_choice");
        // As OpenAI: "required" with no tools behaves as "none".
        if (mode == "required" && tools.Count == 0) return new(tools, "none", null, null);
        if (named is not null && tools.All(t => t.Name != named))
            throw ApiException.BadRequest("The tool specified in `tool_choice` does not match any of the specified `tools`", "tool_choice");
        return mode switch
        {
            "auto" => new(tools, mode, null, autoParser
                ?? throw ApiException.BadRequest("\"auto\" tool choice requires --enable-auto-tool-choice and --tool-call-parser to be set", "tool_choice")),
            "required" => new(tools, mode, null, new RequiredToolCallParser()) { Parallel = parallel },
            _ => new(tools, mode, named, new NamedToolCallParser(named!)),
        };
    }

    /// <summary>The JSON Schema the output must follow, as vLLM builds it: a named function's
    /// parameters, or for "required" a non-empty list of <c>{"name", "parameters"}</c> of any tool
    /// (each tool's <c>$defs</c> lifted to the top, where its references point; one call only with
    /// parallel_tool_calls false). Null otherwise.</summary>
    public GuideSpec? Constraint()
    {
        if (Mode == "named") return new GuideSpec(GuideKind.JsonSchema, Parameters(Tools.First(t => t.Name == Named)).ToJsonString());
        if (Mode != "required") return null;
        var defs = new JsonObject();
        var variants = new JsonArray();
        foreach (var tool in Tools)
        {
            var parameters = Parameters(tool);
            if (parameters["$defs"] is JsonObject own)
            {
                foreach (var (name, def) in own) defs[name] = def?.DeepClone();
                parameters.Remove("$defs");
            }
            variants.Add(new JsonObject
            {
                ["type"] = "object",
                ["properties"] = new JsonObject
                {
                    ["name"] = new JsonObject { ["type"] = "string", ["enum"] = new JsonArray(tool.Name) },
                    ["parameters"] = parameters,
                },
                ["required"] = new JsonArray("name", "parameters"),
            });
        }
        var schema = new JsonObject { ["type"] = "array", ["minItems"] = 1, ["items"] = new JsonObject { ["anyOf"] = variants } };
        if (!Parallel) schema["maxItems"] = 1;
        if (defs.Count > 0) schema["$defs"] = defs;
        return new GuideSpec(GuideKind.JsonSchema, schema.ToJsonString());
    }

    /// <summary>The finish reason a choice reports: "tool_calls" where the model called tools on
    /// its own or was required to (and stopped), as vLLM reports it; a named function's call
    /// finishes as the output did ("stop"), as OpenAI's does.</summary>
    public string FinishReason(string reason, bool called) => Mode switch
    {
        "auto" when called => "tool_calls",
        "required" when reason == "stop" => "tool_calls",
        _ => reason,
    };

    private static JsonObject Parameters(ToolFunction tool) =>
        tool.Parameters?.DeepClone().AsObject() ?? new JsonObject { ["type"] = "object", ["properties"] = new JsonObject() };

    private static List<ToolFunction>? ReadTools(JsonElement body)
    {
        if (Get(body, "tools") is not { } tools) return null;
        if (tools.ValueKind != JsonValueKind.Array) throw WrongType("tools", "a list of tools", tools);
        var result = new List<ToolFunction>();
        foreach (var tool in tools.EnumerateArray())
        {
            var where = $"tools[{result.Count}]";
            if (tool.ValueKind != JsonValueKind.Object) throw WrongType(where, "a tool object", tool);
            if (String(tool, "type") is var type && type != "function")
                throw ApiException.BadRequest($"'{where}.type' must be \"function\", got {(type is null ? "none" : $"'{ApiException.Echo(type)}'")}.", "tools");
            if (Get(tool, "function") is not { ValueKind: JsonValueKind.Object } function)
                throw ApiException.BadRequest($"'{where}.function' must be an object with a 'name'.", "tools");
            if (Get(function, "name") is not { ValueKind: JsonValueKind.String } name || name.GetString() is not { Length: > 0 } n)
                throw ApiException.BadRequest($"'{where}.function.name' must be a non-empty string.", "tools");
            if (Get(function, "description") is { ValueKind: not JsonValueKind.String } d) throw WrongType($"{where}.function.description", "a string", d);
            var parameters = Get(function, "parameters");
            if (parameters is { ValueKind: not JsonValueKind.Object }) throw WrongType($"{where}.function.parameters", "a JSON Schema object", parameters.Value);
            result.Add(new ToolFunction(n, parameters is { } p ? JsonNode.Parse(p.GetRawText())!.AsObject() : null));
        }
        return result;
    }

    private static string NamedFunction(JsonElement choice)
    {
        if (Get(choice, "function") is not { ValueKind: JsonValueKind.Object } function)
            throw ApiException.BadRequest($"Invalid value for `function` in `tool_choice`! {NamedUsage}", "tool_choice");
        if (Get(function, "name") is not { } name)
            throw ApiException.BadRequest($"Expected field `name` in `function` in `tool_choice`! {NamedUsage}", "tool_choice");
        return name.ValueKind == JsonValueKind.String && name.GetString() is { Length: > 0 } n ? n
            : throw ApiException.BadRequest($"Invalid `name` in `function`: `{ApiException.Echo(name.GetRawText())}` in `tool_choice`! {NamedUsage}", "tool_choice");
    }
}
