using System.Net;
using System.Text.Json;
using LlmEngine.Host.Api;

namespace LlmEngine.Tests.Server.Tools;

/// <summary>
/// tools and tool_choice on /v1/chat/completions over the fake engine, whose output is the last
/// message's text (the template renders only that) up to its first '.': the request checks vLLM
/// makes, the response and stream shapes OpenAI's clients read, and tool messages in templates.
/// </summary>
public sealed class ChatToolCallingTests
{
    private static readonly string EchoModel = TestModel.Create(new { chat_template = "{{ messages[-1]['content'] }}", bos_token = "<s>", eos_token = "</s>" });

    private static readonly object[] WeatherTools =
    [
        new { type = "function", function = new { name = "get_weather", description = "Weather in a city", parameters = new { type = "object", properties = new { city = new { type = "string" } }, required = new[] { "city" } } } },
        new { type = "function", function = new { name = "get_time" } },
    ];

    // Room for a prompt and its echo, both a call's length.
    private static Task<ServerHost> Start(string? parser = "hermes", bool auto = true) => ServerHost.Start(new FakeEngine { MaxModelLength = 512 }, o =>
    {
        o.ModelDirectory = EchoModel;
        o.EnableAutoToolChoice = auto;
        o.ToolCallParser = parser;
    });

    private static object Body(string content, object? toolChoice = null, bool stream = false, object? tools = null)
    {
        var body = new Dictionary<string, object?> { ["messages"] = new[] { new { role = "user", content } }, ["tools"] = tools ?? WeatherTools, ["stream"] = stream };
        if (toolChoice is not null) body["tool_choice"] = toolChoice;
        return body;
    }

    private static async Task<JsonElement> Error(HttpResponseMessage response)
    {
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        return (await ServerHost.Json(response)).GetProperty("error");
    }

    [Fact]
    public async Task AutoWithoutTheFlagIsVllmsBadRequest()
    {
        await using var server = await Start(parser: null, auto: false);
        // tool_choice defaults to "auto" when tools are given.
        foreach (var choice in new object?[] { null, "auto" })
        {
            var error = await Error(await server.Post("/v1/chat/completions", Body("Hi.", choice)));
            Assert.Equal("\"auto\" tool choice requires --enable-auto-tool-choice and --tool-call-parser to be set", error.GetProperty("message").GetString());
            Assert.Equal("tool_choice", error.GetProperty("param").GetString());
        }
        // "none" leaves the output as content.
        var reply = await ServerHost.Json(await server.Post("/v1/chat/completions", Body("Hi.", "none")));
        Assert.Equal("Hi.", reply.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString());
        Assert.False(reply.GetProperty("choices")[0].GetProperty("message").TryGetProperty("tool_calls", out _));
    }

    public static TheoryData<object, object?, string> BadRequests => new()
    {
        { "get_weather", null, "'tools' must be a list of tools, got the string \"get_weather\"" },
        { new[] { new { type = "retrieval" } }, null, "'tools[0].type' must be \"function\", got 'retrieval'." },
        { new[] { new { type = "function", function = new { description = "x" } } }, null, "'tools[0].function.name' must be a non-empty string." },
        { new[] { new { type = "function", function = new { name = "f", parameters = "{}" } } }, null, "'tools[0].function.parameters' must be a JSON Schema object, got the string \"{}\"" },
        { WeatherTools, "sometimes", "Invalid value for `tool_choice`: sometimes! Only named tools, \"none\", \"auto\" or \"required\" are supported." },
        { WeatherTools, new { type = "function", function = new { name = "get_stock" } }, "The tool specified in `tool_choice` does not match any of the specified `tools`" },
        { WeatherTools, new { type = "function" }, "Invalid value for `function` in `tool_choice`! Correct usage: `{\"type\": \"function\", \"function\": {\"name\": \"my_function\"}}`" },
        { WeatherTools, new { type = "function", function = new { name = "get_weather" } }, "A structured outputs constraint cannot be combined with tool_choice \"required\" or a named function." },
    };

    [Theory]
    [MemberData(nameof(BadRequests))]
    public async Task BadToolsAndToolChoicesAreRefused(object tools, object? toolChoice, string message)
    {
        await using var server = await Start();
        var body = (Dictionary<string, object?>)Body("Hi.", toolChoice, tools: tools);
        if (message.StartsWith("A structured")) body["response_format"] = new { type = "json_object" };
        var error = await Error(await server.Post("/v1/chat/completions", body));
        Assert.Equal(message, error.GetProperty("message").GetString());
        Assert.Empty(server.Engine.Requests);
    }

    [Fact]
    public async Task ToolChoiceWithoutToolsIsRefused()
    {
        await using var server = await Start();
        var body = new { messages = new[] { new { role = "user", content = "Hi." } }, tool_choice = "required" };
        Assert.Equal("When using `tool_choice`, `tools` must be set.", (await Error(await server.Post("/v1/chat/completions", body))).GetProperty("message").GetString());
    }

    private const string HermesCall = "Checking.<tool_call>{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}</tool_call>";

    [Fact]
    public async Task AutoReadsTheModelsOwnCallsIntoToolCalls()
    {
        await using var server = await Start();
        // The fake model stops after the first '.', so the call comes first here.
        var reply = await ServerHost.Json(await server.Post("/v1/chat/completions", Body("<tool_call>{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}</tool_call>.")));
        var choice = reply.GetProperty("choices")[0];
        Assert.Equal("tool_calls", choice.GetProperty("finish_reason").GetString());
        var message = choice.GetProperty("message");
        Assert.Equal(JsonValueKind.Null, message.GetProperty("content").ValueKind);
        var call = Assert.Single(message.GetProperty("tool_calls").EnumerateArray());
        Assert.StartsWith("chatcmpl-tool-", call.GetProperty("id").GetString());
        Assert.Equal("function", call.GetProperty("type").GetString());
        Assert.Equal("get_weather", call.GetProperty("function").GetProperty("name").GetString());
        Assert.Equal("{\"city\": \"Paris\"}", call.GetProperty("function").GetProperty("arguments").GetString());
        Assert.Null(server.Engine.LastRequest.Sampling.Guide);

        var plain = await ServerHost.Json(await server.Post("/v1/chat/completions", Body(HermesCall)));
        Assert.Equal("Checking.", plain.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString());
        Assert.Equal("stop", plain.GetProperty("choices")[0].GetProperty("finish_reason").GetString());
    }

    [Fact]
    public async Task AStreamedCallSendsIdAndNameFirstThenArgumentsAndFinishesWithToolCalls()
    {
        await using var server = await Start();
        var chunks = await Chunks(server, Body("<tool_call>{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}</tool_call>.", stream: true));
        Assert.Equal("assistant", chunks[0].GetProperty("delta").GetProperty("role").GetString());
        var deltas = chunks.Skip(1).Select(c => c.GetProperty("delta")).ToList();
        Assert.All(deltas, d => Assert.False(d.TryGetProperty("content", out _)));
        var calls = deltas.Where(d => d.TryGetProperty("tool_calls", out _)).Select(d => Assert.Single(d.GetProperty("tool_calls").EnumerateArray())).ToList();
        Assert.True(calls[0].TryGetProperty("id", out _));
        Assert.Equal("get_weather", calls[0].GetProperty("function").GetProperty("name").GetString());
        Assert.Equal("", calls[0].GetProperty("function").GetProperty("arguments").GetString());
        Assert.All(calls.Skip(1), c => Assert.False(c.TryGetProperty("id", out _) || c.GetProperty("function").TryGetProperty("name", out _)));
        Assert.True(calls.Count > 3);
        Assert.Equal("{\"city\": \"Paris\"}", string.Concat(calls.Select(c => c.GetProperty("function").GetProperty("arguments").GetString())));
        Assert.Equal("tool_calls", chunks[^1].GetProperty("finish_reason").GetString());
        Assert.All(chunks.SkipLast(1), c => Assert.Equal(JsonValueKind.Null, c.GetProperty("finish_reason").ValueKind));
    }

    [Fact]
    public async Task RequiredConstrainsTheOutputToAListOfCallsAndReadsIt()
    {
        await using var server = await Start(parser: null, auto: false);
        var output = "[{\"name\": \"get_time\", \"parameters\": {}}, {\"name\": \"get_weather\", \"parameters\": {\"city\": \"Oslo\"}}].";
        var reply = await ServerHost.Json(await server.Post("/v1/chat/completions", Body(output, "required")));
        Assert.NotNull(server.Engine.LastRequest.Sampling.Guide);
        var choice = reply.GetProperty("choices")[0];
        Assert.Equal("tool_calls", choice.GetProperty("finish_reason").GetString());
        Assert.Equal(["get_time", "get_weather"], choice.GetProperty("message").GetProperty("tool_calls").EnumerateArray().Select(c => c.GetProperty("function").GetProperty("name").GetString()));
        Assert.Equal(["{}", "{\"city\": \"Oslo\"}"], choice.GetProperty("message").GetProperty("tool_calls").EnumerateArray().Select(c => c.GetProperty("function").GetProperty("arguments").GetString()));
    }

    [Fact]
    public async Task ANamedFunctionConstrainsTheOutputToItsArgumentsAndFinishesAsTheOutputDid()
    {
        await using var server = await Start(parser: null, auto: false);
        var named = new { type = "function", function = new { name = "get_weather" } };
        // The stop string keeps the fake model's closing '.' out of the arguments.
        object Named(bool stream)
        {
            var body = (Dictionary<string, object?>)Body("{\"city\": \"Rome\"}.", named, stream);
            body["stop"] = ".";
            return body;
        }
        var reply = await ServerHost.Json(await server.Post("/v1/chat/completions", Named(stream: false)));
        Assert.NotNull(server.Engine.LastRequest.Sampling.Guide);
        var choice = reply.GetProperty("choices")[0];
        Assert.Equal("stop", choice.GetProperty("finish_reason").GetString());
        var call = Assert.Single(choice.GetProperty("message").GetProperty("tool_calls").EnumerateArray());
        Assert.Equal("get_weather", call.GetProperty("function").GetProperty("name").GetString());
        Assert.Equal("{\"city\": \"Rome\"}", call.GetProperty("function").GetProperty("arguments").GetString());

        var chunks = await Chunks(server, Named(stream: true));
        var calls = chunks.Select(c => c.GetProperty("delta")).Where(d => d.TryGetProperty("tool_calls", out _)).Select(d => d.GetProperty("tool_calls")[0]).ToList();
        Assert.Equal("get_weather", calls[0].GetProperty("function").GetProperty("name").GetString());
        Assert.Equal("{\"city\": \"Rome\"}", string.Concat(calls.Select(c => c.GetProperty("function").GetProperty("arguments").GetString())));
    }

    [Fact]
    public async Task AssistantToolCallsAndToolResultsReachTheTemplate()
    {
        const string template =
            "{% for m in messages %}{% if m.tool_calls %}{% for c in m.tool_calls %}[{{ c.id }}:{{ c.function.name }}({{ c.function.arguments.city }})]{% endfor %}"
            + "{% elif m.role == 'tool' %}<{{ m.tool_call_id }}={{ m.content }}>{% else %}{{ m.content }}{% endif %}{% endfor %}";
        var dir = TestModel.Create(new { chat_template = template, bos_token = "<s>", eos_token = "</s>" });
        await using var server = await ServerHost.Start(configure: o => o.ModelDirectory = dir);
        var body = new
        {
            messages = new object[]
            {
                new { role = "user", content = "Weather in Paris?" },
                new { role = "assistant", content = (string?)null, tool_calls = new[] { new { id = "call_1", type = "function", function = new { name = "get_weather", arguments = "{\"city\": \"Paris\"}" } } } },
                new { role = "tool", tool_call_id = "call_1", content = "sunny" },
            },
            tools = WeatherTools,
            tool_choice = "none",
            max_tokens = 1,
        };
        await ServerHost.Json(await server.Post("/v1/chat/completions", body));
        Assert.Equal("Weather in Paris?[call_1:get_weather(Paris)]<call_1=sunny>", new FakeTokenizer().Decode(server.Engine.LastRequest.PromptTokenIds));
    }

    [Fact]
    public void TheServerRefusesTheFlagWithoutAParserAndAnUnknownParser()
    {
        Assert.Equal("--enable-auto-tool-choice needs --tool-call-parser to be set.",
            Assert.Throws<ArgumentException>(() => OpenAiServer.AutoToolParser(new ServerOptions { EnableAutoToolChoice = true })).Message);
        Assert.Throws<ArgumentException>(() => OpenAiServer.AutoToolParser(new ServerOptions { EnableAutoToolChoice = true, ToolCallParser = "qwen" }));
    }

    private static async Task<List<JsonElement>> Chunks(ServerHost server, object body)
    {
        var response = await server.Post("/v1/chat/completions", body);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, text);
        return [.. text.Split("\n\n", StringSplitOptions.RemoveEmptyEntries).Select(e => e["data: ".Length..]).Where(e => e != "[DONE]")
            .Select(e => JsonDocument.Parse(e).RootElement.GetProperty("choices")[0])];
    }
}

/// <summary>The constraints tool_choice sets, as vLLM builds them.</summary>
public sealed class ToolChoiceConstraintTests
{
    private static LlmEngine.Host.Api.Tools.ToolChoice Read(string body) =>
        LlmEngine.Host.Api.Tools.ToolChoice.Read(JsonDocument.Parse(body).RootElement, null);

    private const string Tools = """
        "tools": [
          {"type": "function", "function": {"name": "a", "parameters": {"type": "object", "properties": {"p": {"$ref": "#/$defs/P"}}, "$defs": {"P": {"type": "integer"}}}}},
          {"type": "function", "function": {"name": "b"}}]
        """;

    [Fact]
    public void RequiredIsAListOfCallsOfAnyToolWithDefsLiftedAndOneCallWithoutParallelCalls()
    {
        var schema = Read("{" + Tools + """, "tool_choice": "required"}""").Constraint()!.Source;
        Assert.Equal(
            """{"type":"array","minItems":1,"items":{"anyOf":[{"type":"object","properties":{"name":{"type":"string","enum":["a"]},"parameters":{"type":"object","properties":{"p":{"$ref":"#/$defs/P"}}}},"required":["name","parameters"]},"""
            + """{"type":"object","properties":{"name":{"type":"string","enum":["b"]},"parameters":{"type":"object","properties":{}}},"required":["name","parameters"]}]},"$defs":{"P":{"type":"integer"}}}""",
            schema);
        Assert.Contains("\"maxItems\":1", Read("{" + Tools + """, "tool_choice": "required", "parallel_tool_calls": false}""").Constraint()!.Source);
    }

    [Fact]
    public void ANamedFunctionIsItsParametersAndAutoAndNoneConstrainNothing()
    {
        Assert.Equal("""{"type":"object","properties":{}}""", Read("{" + Tools + """, "tool_choice": {"type": "function", "function": {"name": "b"}}}""").Constraint()!.Source);
        Assert.Null(Read("{" + Tools + """, "tool_choice": "none"}""").Constraint());
        Assert.Equal("none", Read("""{"tools": [], "tool_choice": "required"}""").Mode);
    }
}
