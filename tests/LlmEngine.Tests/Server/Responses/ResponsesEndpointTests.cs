using System.Net;
using System.Text.Json;

namespace LlmEngine.Tests.Server.Responses;

/// <summary>
/// POST /v1/responses over the fake engine, whose output is the last message's text (the echo
/// template renders only that) up to its first '.': the response object and event stream OpenAI
/// documents, input items through the chat template, tools, text.format, and the 400s.
/// </summary>
public sealed class ResponsesEndpointTests
{
    private static readonly string EchoModel = TestModel.Create(new { chat_template = "{{ messages[-1]['content'] }}", bos_token = "<s>", eos_token = "</s>" });

    private static readonly object[] WeatherTools =
    [
        new { type = "function", name = "get_weather", description = "Weather in a city", parameters = new { type = "object", properties = new { city = new { type = "string" } }, required = new[] { "city" } } },
    ];

    private const string HermesCall = "<tool_call>{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}</tool_call>.";

    public static Task<ServerHost> Start(string? modelDirectory = null) => ServerHost.Start(new FakeEngine { MaxModelLength = 512 }, o =>
    {
        o.ModelDirectory = modelDirectory ?? EchoModel;
        o.EnableAutoToolChoice = true;
        o.ToolCallParser = "hermes";
    });

    private static async Task<JsonElement> Ok(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, text);
        return JsonDocument.Parse(text).RootElement;
    }

    [Fact]
    public async Task TextInputGetsAResponseObjectWithOneMessage()
    {
        await using var server = await Start();
        var r = await Ok(await server.Post("/v1/responses", new { model = "fake-model", input = "Hello there. Not this." }));
        Assert.StartsWith("resp_", r.GetProperty("id").GetString());
        Assert.Equal("response", r.GetProperty("object").GetString());
        Assert.Equal("completed", r.GetProperty("status").GetString());
        Assert.Equal("fake-model", r.GetProperty("model").GetString());
        Assert.False(r.GetProperty("store").GetBoolean());
        Assert.Equal(JsonValueKind.Null, r.GetProperty("incomplete_details").ValueKind);
        var item = Assert.Single(r.GetProperty("output").EnumerateArray());
        Assert.Equal("message", item.GetProperty("type").GetString());
        Assert.StartsWith("msg_", item.GetProperty("id").GetString());
        Assert.Equal("assistant", item.GetProperty("role").GetString());
        Assert.Equal("completed", item.GetProperty("status").GetString());
        var part = Assert.Single(item.GetProperty("content").EnumerateArray());
        Assert.Equal("output_text", part.GetProperty("type").GetString());
        Assert.Equal("Hello there.", part.GetProperty("text").GetString());
        Assert.Empty(part.GetProperty("annotations").EnumerateArray());
        var usage = r.GetProperty("usage");
        var prompt = server.Engine.LastRequest.PromptTokenIds.Count;
        Assert.Equal(prompt, usage.GetProperty("input_tokens").GetInt32());
        Assert.Equal(usage.GetProperty("input_tokens").GetInt32() + usage.GetProperty("output_tokens").GetInt32(), usage.GetProperty("total_tokens").GetInt32());
        Assert.True(usage.GetProperty("output_tokens").GetInt32() > 0);
        Assert.Equal("text", r.GetProperty("text").GetProperty("format").GetProperty("type").GetString());
    }

    [Fact]
    public async Task InstructionsAndInputItemsGoThroughTheChatTemplate()
    {
        const string template =
            "{% for m in messages %}{% if m.tool_calls %}{% for c in m.tool_calls %}[{{ c.id }}:{{ c.function.name }}({{ c.function.arguments.city }})]{% endfor %}"
            + "{% elif m.role == 'tool' %}<{{ m.tool_call_id }}={{ m.content }}>{% else %}{{ m.role }}:{{ m.content }}|{% endif %}{% endfor %}";
        await using var server = await Start(TestModel.Create(new { chat_template = template, bos_token = "<s>", eos_token = "</s>" }));
        var body = new
        {
            instructions = "Be brief.",
            input = new object[]
            {
                new { role = "developer", content = "Use tools." },
                new { type = "message", role = "user", content = new[] { new { type = "input_text", text = "Weather" }, new { type = "input_text", text = "in Paris?" } } },
                new { type = "function_call", call_id = "call_1", name = "get_weather", arguments = "{\"city\": \"Paris\"}" },
                new { type = "function_call", call_id = "call_2", name = "get_weather", arguments = "{\"city\": \"Lyon\"}" },
                new { type = "function_call_output", call_id = "call_1", output = "sunny" },
                new { role = "assistant", content = new[] { new { type = "output_text", text = "Sunny." } } },
            },
            max_output_tokens = 1,
        };
        await Ok(await server.Post("/v1/responses", body));
        Assert.Equal("system:Be brief.|system:Use tools.|user:Weather\nin Paris?|[call_1:get_weather(Paris)][call_2:get_weather(Lyon)]<call_1=sunny>assistant:Sunny.|",
            new FakeTokenizer().Decode(server.Engine.LastRequest.PromptTokenIds));
    }

    [Fact]
    public async Task SamplingFieldsCarryOverAndABudgetCutIsIncomplete()
    {
        await using var server = await Start();
        var r = await Ok(await server.Post("/v1/responses", new { input = "Hello there.", max_output_tokens = 3, temperature = 0.5, top_p = 0.9, seed = 7, top_logprobs = 2 }));
        var sampling = server.Engine.LastRequest.Sampling;
        Assert.Equal((3, 0.5, 0.9, 7L, 2), (sampling.MaxTokens, sampling.Temperature, sampling.TopP, sampling.Seed!.Value, sampling.Logprobs!.Value));
        Assert.Equal("incomplete", r.GetProperty("status").GetString());
        Assert.Equal("max_output_tokens", r.GetProperty("incomplete_details").GetProperty("reason").GetString());
        Assert.Equal((3, 0.5), (r.GetProperty("max_output_tokens").GetInt32(), r.GetProperty("temperature").GetDouble()));
        var message = r.GetProperty("output")[0];
        Assert.Equal("incomplete", message.GetProperty("status").GetString());
        var logprobs = message.GetProperty("content")[0].GetProperty("logprobs");
        Assert.Equal(3, logprobs.GetArrayLength());
        Assert.All(logprobs.EnumerateArray(), l => Assert.Equal(2, l.GetProperty("top_logprobs").GetArrayLength()));
        Assert.Equal("Hel", string.Concat(logprobs.EnumerateArray().Select(l => l.GetProperty("token").GetString())));
    }

    [Fact]
    public async Task AStreamSendsTheDocumentedEventsInOrderAndEndsWithTheWholeResponse()
    {
        await using var server = await Start();
        var events = await Events(server, new { input = "Hello there. Not this.", stream = true });
        var types = events.Select(e => e.Type).ToList();
        Assert.Equal(["response.created", "response.in_progress", "response.output_item.added", "response.content_part.added"], types.Take(4));
        Assert.Equal(["response.output_text.done", "response.content_part.done", "response.output_item.done", "response.completed"], types.TakeLast(4));
        Assert.All(types.Skip(4).SkipLast(4), t => Assert.Equal("response.output_text.delta", t));
        Assert.True(types.Count > 10);
        Assert.Equal(Enumerable.Range(0, events.Count), events.Select(e => e.Data.GetProperty("sequence_number").GetInt32()));
        Assert.All(events, e => Assert.Equal(e.Type, e.Data.GetProperty("type").GetString()));
        Assert.Equal("in_progress", events[0].Data.GetProperty("response").GetProperty("status").GetString());
        var itemId = events[2].Data.GetProperty("item").GetProperty("id").GetString();
        Assert.All(events.Skip(3).SkipLast(2), e => Assert.Equal(itemId, e.Data.GetProperty("item_id").GetString()));
        var text = string.Concat(events.Where(e => e.Type == "response.output_text.delta").Select(e => e.Data.GetProperty("delta").GetString()));
        Assert.Equal("Hello there.", text);
        Assert.Equal(text, events[^4].Data.GetProperty("text").GetString());
        var done = events[^1].Data.GetProperty("response");
        Assert.Equal("completed", done.GetProperty("status").GetString());
        Assert.Equal(text, done.GetProperty("output")[0].GetProperty("content")[0].GetProperty("text").GetString());
        Assert.Equal(itemId, done.GetProperty("output")[0].GetProperty("id").GetString());
        Assert.True(done.GetProperty("usage").GetProperty("output_tokens").GetInt32() > 0);
    }

    [Fact]
    public async Task AutoToolChoiceReturnsFunctionCallItemsAndStreamsTheirArguments()
    {
        await using var server = await Start();
        var r = await Ok(await server.Post("/v1/responses", new { input = HermesCall, tools = WeatherTools }));
        var call = Assert.Single(r.GetProperty("output").EnumerateArray());
        Assert.Equal("function_call", call.GetProperty("type").GetString());
        Assert.StartsWith("fc_", call.GetProperty("id").GetString());
        Assert.False(string.IsNullOrEmpty(call.GetProperty("call_id").GetString()));
        Assert.Equal("get_weather", call.GetProperty("name").GetString());
        Assert.Equal("{\"city\": \"Paris\"}", call.GetProperty("arguments").GetString());
        Assert.Equal("completed", call.GetProperty("status").GetString());
        Assert.Equal("get_weather", r.GetProperty("tools")[0].GetProperty("name").GetString());

        var events = await Events(server, new { input = HermesCall, tools = WeatherTools, stream = true });
        var added = Assert.Single(events, e => e.Type == "response.output_item.added").Data.GetProperty("item");
        Assert.Equal(("function_call", "get_weather", ""), (added.GetProperty("type").GetString(), added.GetProperty("name").GetString(), added.GetProperty("arguments").GetString()));
        var deltas = events.Where(e => e.Type == "response.function_call_arguments.delta").Select(e => e.Data.GetProperty("delta").GetString()).ToList();
        Assert.True(deltas.Count > 3);
        Assert.Equal("{\"city\": \"Paris\"}", string.Concat(deltas));
        Assert.Equal("{\"city\": \"Paris\"}", Assert.Single(events, e => e.Type == "response.function_call_arguments.done").Data.GetProperty("arguments").GetString());
        Assert.DoesNotContain(events, e => e.Type.StartsWith("response.output_text"));
        var final = events[^1].Data.GetProperty("response").GetProperty("output");
        Assert.Equal(added.GetProperty("call_id").GetString(), Assert.Single(final.EnumerateArray()).GetProperty("call_id").GetString());
    }

    [Fact]
    public async Task RequiredANamedFunctionAndTextFormatConstrainTheOutput()
    {
        await using var server = await Start();
        var named = await Ok(await server.Post("/v1/responses", new { input = "{\"city\": \"Rome\"}.", tools = WeatherTools, tool_choice = new { type = "function", name = "get_weather" }, stop = "." }));
        Assert.NotNull(server.Engine.LastRequest.Sampling.Guide);
        var call = Assert.Single(named.GetProperty("output").EnumerateArray());
        Assert.Equal(("get_weather", "{\"city\": \"Rome\"}"), (call.GetProperty("name").GetString(), call.GetProperty("arguments").GetString()));

        await Ok(await server.Post("/v1/responses", new { input = "[{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Oslo\"}}].", tools = WeatherTools, tool_choice = "required" }));
        Assert.NotNull(server.Engine.LastRequest.Sampling.Guide);

        var schema = new { type = "object", properties = new { a = new { type = "integer" } }, required = new[] { "a" } };
        var json = await Ok(await server.Post("/v1/responses", new { input = "{\"a\": 1}.", text = new { format = new { type = "json_schema", name = "A", schema, strict = true } }, stop = "." }));
        Assert.NotNull(server.Engine.LastRequest.Sampling.Guide);
        Assert.Equal("json_schema", json.GetProperty("text").GetProperty("format").GetProperty("type").GetString());
        await Ok(await server.Post("/v1/responses", new { input = "{}.", text = new { format = new { type = "text" } } }));
        Assert.Null(server.Engine.LastRequest.Sampling.Guide);
    }

    public static TheoryData<string, string, string> BadRequests => new()
    {
        { """{"model": "fake-model"}""", "'input' is required.", "input" },
        { """{"input": 5}""", "'input' must be a string or a list of input items, got 5", "input" },
        { """{"input": []}""", "'input' cannot be empty.", "input" },
        { """{"input": [{"type": "input_image", "image_url": "x"}]}""", "Input items of type 'input_image' are not supported; use message, function_call or function_call_output.", "input" },
        { """{"input": [{"role": "user", "content": [{"type": "input_image"}]}]}""", "'input[0].content' parts must be text (input_text or output_text), got 'input_image'.", "input" },
        { """{"input": [{"role": "robot", "content": "x"}]}""", "'input[0].role' must be \"user\", \"assistant\", \"system\" or \"developer\", got 'robot'.", "input" },
        { """{"input": [{"type": "function_call_output", "output": "x"}]}""", "'input[0].call_id' is required.", "input" },
        { """{"input": "x", "previous_response_id": "resp_1"}""", "'previous_response_id' is not supported: this server stores no responses (store: false).", "previous_response_id" },
        { """{"input": "x", "background": true}""", "'background' is not supported: this server stores no responses.", "background" },
        { """{"input": "x", "tools": [{"type": "web_search"}]}""", "'tools[0].type' must be \"function\" (the only tool type this server runs), got 'web_search'.", "tools" },
        { """{"input": "x", "tool_choice": {"type": "file_search"}, "tools": []}""", "'tool_choice' must be \"none\", \"auto\", \"required\" or {\"type\": \"function\", \"name\": ...}.", "tool_choice" },
        { """{"input": "x", "text": {"format": {"type": "yaml"}}}""", "text.format type 'yaml' is not supported; use 'text', 'json_object' or 'json_schema'.", "text.format" },
        { """{"input": "x", "text": {"format": {"type": "json_schema", "schema": {"type": "object"}}}}""", "response_format.json_schema.name is required.", "text.format" },
        { """{"input": "x", "max_output_tokens": 0}""", "max_tokens must be at least 1, got 0", "max_output_tokens" },
        { """{"input": "x", "max_output_tokens": "many"}""", "'max_output_tokens' must be an integer, got the string \"many\"", "max_output_tokens" },
        { """{"input": "x", "top_logprobs": 21}""", "logprobs must be in [0, 20], got 21", "top_logprobs" },
    };

    [Theory]
    [MemberData(nameof(BadRequests))]
    public async Task BadRequestsAreOpenAiErrorsNamingTheField(string body, string message, string param)
    {
        await using var server = await Start();
        var response = await server.PostRaw("/v1/responses", body);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var error = (await ServerHost.Json(response)).GetProperty("error");
        Assert.Equal(message, error.GetProperty("message").GetString());
        Assert.Equal(param, error.GetProperty("param").GetString());
        Assert.Equal("invalid_request_error", error.GetProperty("type").GetString());
        Assert.Empty(server.Engine.Requests);
    }

    [Fact]
    public async Task AnotherModelIsNotFound()
    {
        await using var server = await Start();
        var response = await server.Post("/v1/responses", new { model = "gpt-4o", input = "x" });
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("model_not_found", (await ServerHost.Json(response)).GetProperty("error").GetProperty("code").GetString());
    }

    [Fact]
    public async Task AFailureMidStreamIsAnErrorEventAndTheStreamEnds()
    {
        await using var server = await ServerHost.Start(new FakeEngine { MaxModelLength = 512, FailWith = new InvalidOperationException("boom"), FailAtStep = 3 },
            o => o.ModelDirectory = EchoModel);
        var events = await Events(server, new { input = "Hello there.", stream = true });
        var error = events[^1];
        Assert.Equal("error", error.Type);
        Assert.Equal("internal_error", error.Data.GetProperty("code").GetString());
        Assert.Contains("boom", error.Data.GetProperty("message").GetString());
        Assert.DoesNotContain(events, e => e.Type == "response.completed");
    }

    /// <summary>The stream's events: each one's <c>event:</c> name and its data.</summary>
    public static async Task<List<(string Type, JsonElement Data)>> Events(ServerHost server, object body)
    {
        var response = await server.Post("/v1/responses", body);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, text);
        Assert.DoesNotContain("[DONE]", text);
        return [.. text.Split("\n\n", StringSplitOptions.RemoveEmptyEntries).Select(e =>
        {
            var lines = e.Split('\n');
            Assert.StartsWith("event: ", lines[0]);
            Assert.StartsWith("data: ", lines[1]);
            return (lines[0]["event: ".Length..], JsonDocument.Parse(lines[1]["data: ".Length..]).RootElement.Clone());
        })];
    }
}
