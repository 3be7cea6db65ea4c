using System.ClientModel;
using System.ComponentModel;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Serialization;
using Json.Schema;
using LlmEngine.Actors.Engine;
using LlmEngine.Host.Api;
using LlmEngine.Tests.Loading;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;
using Microsoft.SemanticKernel;
using Microsoft.SemanticKernel.ChatCompletion;
using Microsoft.SemanticKernel.Connectors.OpenAI;
using OpenAI;
using OpenAI.Models;
using AiFunctionCall = Microsoft.Extensions.AI.FunctionCallContent;
using AiFunctionResult = Microsoft.Extensions.AI.FunctionResultContent;
using ChatMessage = Microsoft.Extensions.AI.ChatMessage;
using SkFunctionResult = Microsoft.SemanticKernel.FunctionResultContent;

namespace LlmEngine.Tests.EndToEnd;

/// <summary>stories260K behind <c>serve --chat-template chatml.jinja --enable-auto-tool-choice
/// --tool-call-parser hermes</c>. The model knows nothing of tools: calls happen only where
/// tool_choice "required" or a named function forces them, and "auto" gets plain text.</summary>
public sealed class Stories260KToolServer : IAsyncLifetime
{
    private WebApplication _app = null!;
    public InferenceEngine Engine { get; private set; } = null!;
    public Uri Address { get; private set; } = null!;
    public string Model => Engine.ModelName;

    public async Task InitializeAsync()
    {
        Engine = InferenceEngine.Start(new EngineOptions { Model = SharedModels.Stories260K, NumBlocks = 1024, BlockSize = 16 });
        var options = new ServerOptions
        {
            Port = 0, ModelDirectory = SharedModels.Stories260K, ChatTemplate = Stories260KServer.ChatMl,
            EnableAutoToolChoice = true, ToolCallParser = "hermes",
        };
        _app = OpenAiServer.Build(Engine, options, b => b.Logging.ClearProviders());
        await _app.StartAsync();
        Address = OpenAiServer.BoundAddress(_app);
    }

    public OpenAIClient Client() =>
        new(new ApiKeyCredential("unused"), new OpenAIClientOptions { Endpoint = new Uri(Address, "/v1"), NetworkTimeout = TimeSpan.FromMinutes(2) });

    public async Task DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        await Engine.DisposeAsync();
    }
}

[JsonConverter(typeof(JsonStringEnumConverter<City>))]
public enum City { Paris, Oslo, Lima }

public sealed record Forecast(bool Sunny, City City);

/// <summary>Tool calling and structured output end to end, through the HTTP API and through the
/// clients .NET users call it with: Microsoft.Extensions.AI, Semantic Kernel, OpenAI's own.</summary>
[Trait("Category", "Slow")]
public sealed class ToolCallingEndToEndTests(Stories260KToolServer server) : IClassFixture<Stories260KToolServer>
{
    private const string WeatherSchema = """{"type": "object", "properties": {"city": {"type": "string", "enum": ["Paris", "Oslo", "Lima"]}, "days": {"type": "integer", "enum": [1, 2, 3]}}, "required": ["city", "days"]}""";
    private const string NoteSchema = """{"type": "object", "properties": {"text": {"type": "string", "maxLength": 12}}, "required": ["text"]}""";

    private object Body(object toolChoice, int seed, bool stream) => new
    {
        model = server.Model,
        messages = new[] { new { role = "user", content = "What is the weather like?" } },
        tools = new object[]
        {
            new { type = "function", function = new { name = "get_weather", parameters = JsonDocument.Parse(WeatherSchema).RootElement } },
            new { type = "function", function = new { name = "take_note", parameters = JsonDocument.Parse(NoteSchema).RootElement } },
        },
        tool_choice = toolChoice,
        // One call, as a model that knows tools would stop after; this one would go on listing them.
        parallel_tool_calls = false,
        temperature = 1.0,
        seed,
        stream,
    };

    private static string SchemaOf(string name) => name == "get_weather" ? WeatherSchema : NoteSchema;

    [Fact]
    public async Task RequiredAndNamedToolChoicesGiveValidCallsWholeAndStreamedAlike()
    {
        using var http = new HttpClient { BaseAddress = server.Address, Timeout = TimeSpan.FromMinutes(2) };
        var named = new { type = "function", function = new { name = "take_note" } };
        foreach (var (choice, seed) in Enumerable.Range(0, 8).Select(i => (i % 2 == 0 ? (object)"required" : named, i)))
        {
            var whole = (await Stories260KServer.Json(await http.PostAsJsonAsync("/v1/chat/completions", Body(choice, seed, stream: false)))).GetProperty("choices")[0];
            Assert.Equal(choice is string ? "tool_calls" : "stop", whole.GetProperty("finish_reason").GetString());
            var calls = whole.GetProperty("message").GetProperty("tool_calls").EnumerateArray()
                .Select(c => (Name: c.GetProperty("function").GetProperty("name").GetString()!, Arguments: c.GetProperty("function").GetProperty("arguments").GetString()!)).ToList();
            Assert.NotEmpty(calls);
            foreach (var (name, arguments) in calls)
            {
                using var args = JsonDocument.Parse(arguments);
                Assert.True(JsonSchema.FromText(SchemaOf(name)).Evaluate(args.RootElement).IsValid, $"{name}({arguments})");
            }
            if (choice is not string) Assert.Equal("take_note", Assert.Single(calls).Name);

            // The same seed streamed: the same calls, name first, arguments in pieces.
            var response = await http.PostAsJsonAsync("/v1/chat/completions", Body(choice, seed, stream: true));
            var events = (await response.Content.ReadAsStringAsync()).Split("\n\n", StringSplitOptions.RemoveEmptyEntries)
                .Select(e => e["data: ".Length..]).Where(e => e != "[DONE]").Select(e => JsonDocument.Parse(e).RootElement.GetProperty("choices")[0]).ToList();
            var streamed = new List<(string Name, string Arguments)>();
            foreach (var d in events.Select(e => e.GetProperty("delta")).Where(d => d.TryGetProperty("tool_calls", out _)))
                foreach (var t in d.GetProperty("tool_calls").EnumerateArray())
                {
                    var index = t.GetProperty("index").GetInt32();
                    var piece = t.GetProperty("function").GetProperty("arguments").GetString()!;
                    if (index == streamed.Count) streamed.Add((t.GetProperty("function").GetProperty("name").GetString()!, piece));
                    else streamed[index] = (streamed[index].Name, streamed[index].Arguments + piece);
                }
            Assert.Equal(calls, streamed);
            Assert.Equal(whole.GetProperty("finish_reason").GetString(), events[^1].GetProperty("finish_reason").GetString());
        }
    }

    [Fact]
    public async Task OpenAiClientGetsTheModel()
    {
        var model = (await server.Client().GetOpenAIModelClient().GetModelAsync(server.Model)).Value;
        Assert.Equal(server.Model, model.Id);
        Assert.Equal("llm-engine", model.OwnedBy);
        var missing = await Assert.ThrowsAsync<ClientResultException>(() => server.Client().GetOpenAIModelClient().GetModelAsync("gpt-4o"));
        Assert.Equal(404, missing.Status);
    }

    [Fact]
    public async Task ExtensionsAiGetResponseOfTReturnsATypedObject()
    {
        IChatClient chat = server.Client().GetChatClient(server.Model).AsIChatClient();
        for (var seed = 0; seed < 5; seed++)
        {
            var response = await chat.GetResponseAsync<Forecast>("Will it be sunny tomorrow?", new ChatOptions { Temperature = 1.0f, Seed = seed });
            Assert.True(response.TryGetResult(out var forecast), response.Text);
            Assert.True(Enum.IsDefined(forecast!.City));
        }
    }

    [Fact]
    public async Task ExtensionsAiFunctionInvocationCompletesARoundTrip()
    {
        var asked = new List<City>();
        var weather = AIFunctionFactory.Create((City city) => { asked.Add(city); return $"Sunny in {city}."; }, "get_weather", "The weather in a city");
        IChatClient chat = server.Client().GetChatClient(server.Model).AsIChatClient().AsBuilder().UseFunctionInvocation().Build();

        var response = await chat.GetResponseAsync(
            [new ChatMessage(ChatRole.User, "What is the weather in Paris?")],
            new ChatOptions { Tools = [weather], ToolMode = ChatToolMode.RequireAny, AllowMultipleToolCalls = false, MaxOutputTokens = 200, Temperature = 0 });

        Assert.Single(asked);
        var call = Assert.Single(response.Messages.SelectMany(m => m.Contents).OfType<AiFunctionCall>());
        Assert.Equal("get_weather", call.Name);
        var result = Assert.Single(response.Messages.SelectMany(m => m.Contents).OfType<AiFunctionResult>());
        Assert.Equal(call.CallId, result.CallId);
        Assert.Equal($"Sunny in {asked[0]}.", result.Result?.ToString());
        // The model's answer after the tool: plain text, the round trip over.
        Assert.Equal(ChatRole.Assistant, response.Messages[^1].Role);
        Assert.False(string.IsNullOrEmpty(response.Messages[^1].Text));
    }

    public sealed class WeatherPlugin
    {
        public List<City> Asked { get; } = [];

        [KernelFunction("get_weather"), Description("The weather in a city")]
        public string GetWeather(City city)
        {
            Asked.Add(city);
            return $"Sunny in {city}.";
        }
    }

    [Fact]
    public async Task SemanticKernelAutoInvokesARequiredFunction()
    {
        var plugin = new WeatherPlugin();
        using var http = new HttpClient { Timeout = TimeSpan.FromMinutes(2) };
#pragma warning disable SKEXP0010 // a custom endpoint is how SK reaches OpenAI-compatible servers
        var builder = Kernel.CreateBuilder().AddOpenAIChatCompletion(server.Model, new Uri(server.Address, "/v1"), "unused", httpClient: http);
#pragma warning restore SKEXP0010
        var kernel = builder.Build();
        kernel.Plugins.AddFromObject(plugin, "weather");
        var history = new ChatHistory();
        history.AddUserMessage("What is the weather in Oslo?");

        var answer = await kernel.GetRequiredService<IChatCompletionService>().GetChatMessageContentAsync(history,
            new OpenAIPromptExecutionSettings
            {
                FunctionChoiceBehavior = FunctionChoiceBehavior.Required(options: new FunctionChoiceBehaviorOptions { AllowParallelCalls = false }),
                MaxTokens = 200,
                Temperature = 0,
            }, kernel);

        Assert.Single(plugin.Asked);
        Assert.Contains(history, m => m.Items.OfType<SkFunctionResult>().Any(r => r.Result?.ToString() == $"Sunny in {plugin.Asked[0]}."));
        Assert.Equal(AuthorRole.Assistant, answer.Role);
        Assert.False(string.IsNullOrEmpty(answer.Content));
    }

    [Fact]
    public async Task OpenAiResponsesClientGetsTextAForcedCallAndATypedObject()
    {
#pragma warning disable OPENAI001 // the Responses client is marked for evaluation in OpenAI 2.15
        var client = server.Client().GetResponsesClient();
        var input = new[] { OpenAI.Responses.ResponseItem.CreateUserMessageItem("What is the weather like?") };
        OpenAI.Responses.ResponseResult text = await client.CreateResponseAsync(new OpenAI.Responses.CreateResponseOptions(server.Model, input) { MaxOutputTokenCount = 24, Temperature = 0f });
        Assert.False(string.IsNullOrWhiteSpace(text.GetOutputText()));
        // Greedy: a sampled story can reach its end-of-sequence token before 24 tokens; the greedy one does not.
        Assert.Equal(24, text.Usage.OutputTokenCount);

        for (var seed = 0; seed < 3; seed++)
        {
            var options = new OpenAI.Responses.CreateResponseOptions(server.Model, input)
            {
                ToolChoice = OpenAI.Responses.ResponseToolChoice.CreateRequiredChoice(), ParallelToolCallsEnabled = false, Temperature = 1.0f,
            };
            options.Tools.Add(OpenAI.Responses.ResponseTool.CreateFunctionTool("get_weather", BinaryData.FromString(WeatherSchema), strictModeEnabled: true));
            OpenAI.Responses.ResponseResult called = await client.CreateResponseAsync(options);
            Assert.True(called.OutputItems.Count == 1 && called.OutputItems[0] is OpenAI.Responses.FunctionCallResponseItem, $"{called.Status} {called.GetOutputText()}");
            var call = (OpenAI.Responses.FunctionCallResponseItem)called.OutputItems[0];
            Assert.Equal("get_weather", call.FunctionName);
            using var args = JsonDocument.Parse(call.FunctionArguments.ToString());
            Assert.True(JsonSchema.FromText(WeatherSchema).Evaluate(args.RootElement).IsValid, call.FunctionArguments.ToString());
        }

        // Microsoft.Extensions.AI over the Responses client: text.format json_schema underneath.
        IChatClient chat = client.AsIChatClient(server.Model);
        var forecast = await chat.GetResponseAsync<Forecast>("Will it be sunny tomorrow?", new ChatOptions { Temperature = 1.0f });
        Assert.True(forecast.TryGetResult(out var result), forecast.Text);
        Assert.True(Enum.IsDefined(result!.City));
#pragma warning restore OPENAI001
    }
}
