using System.ClientModel;
using System.Net;
using OpenAI;
using OpenAI.Chat;

namespace LlmEngine.Tests.Server;

/// <summary>Chat completions through the official OpenAI .NET client.</summary>
public sealed class ChatCompletionsTests : IAsyncLifetime
{
    private ServerHost _server = null!;
    private ChatClient _client = null!;

    public async Task InitializeAsync()
    {
        _server = await ServerHost.Start();
        _client = new ChatClient("fake-model", new ApiKeyCredential("unused"), new OpenAIClientOptions { Endpoint = new Uri(_server.BaseAddress, "v1") });
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();

    private string Expected(int choice = 0) =>
        FakeModel.Complete(_server.Engine.LastRequest.PromptTokenIds, choice, _server.Engine.LastRequest.Sampling).Text;

    [Fact]
    public async Task PromptIsTheTemplateRenderingWithBosOnceAndTheGenerationPrompt()
    {
        await _client.CompleteChatAsync([new SystemChatMessage("be brief"), new UserChatMessage("hi")], new ChatCompletionOptions { MaxOutputTokenCount = 2 });

        var prompt = _server.Engine.LastRequest.PromptTokenIds;
        Assert.Equal("<s><|system|>be brief\n<|user|>hi\n<|assistant|>", new FakeTokenizer().Decode(prompt, skipSpecialTokens: false));
        Assert.Equal(1, prompt.Count(t => t == FakeTokenizer.Bos));
    }

    [Fact]
    public async Task ChatCompletionReturnsTheModelsTextAsTheAssistantMessage()
    {
        ChatCompletion completion = await _client.CompleteChatAsync([new UserChatMessage("hi")], new ChatCompletionOptions { MaxOutputTokenCount = 6 });

        Assert.Equal(ChatMessageRole.Assistant, completion.Role);
        Assert.Equal(Expected(), completion.Content[0].Text);
        Assert.Equal(ChatFinishReason.Length, completion.FinishReason);
        Assert.Equal((_server.Engine.LastRequest.PromptTokenIds.Count, 6), (completion.Usage.InputTokenCount, completion.Usage.OutputTokenCount));
    }

    [Fact]
    public async Task MaxCompletionTokensBecomesTheEnginesMaxTokens()
    {
        await _client.CompleteChatAsync([new UserChatMessage("hi")], new ChatCompletionOptions { MaxOutputTokenCount = 9, Temperature = 0.25f, TopP = 0.5f });

        var s = _server.Engine.LastRequest.Sampling;
        Assert.Equal((9, 0.25, 0.5), (s.MaxTokens, s.Temperature, s.TopP));
    }

    [Fact]
    public async Task WithoutMaxTokensTheCompletionMayFillTheContext()
    {
        await _server.Post("/v1/chat/completions", new { messages = new[] { new { role = "user", content = "hi" } } });

        var r = _server.Engine.LastRequest;
        Assert.Equal(128, r.PromptTokenIds.Count + r.Sampling.MaxTokens);
    }

    [Fact]
    public async Task StreamedChatConcatenatesToTheModelsText()
    {
        var text = new System.Text.StringBuilder();
        ChatFinishReason? finish = null;
        ChatTokenUsage? usage = null;
        await foreach (var update in _client.CompleteChatStreamingAsync([new UserChatMessage("hi")], new ChatCompletionOptions { MaxOutputTokenCount = 5 }))
        {
            foreach (var part in update.ContentUpdate) text.Append(part.Text);
            finish ??= update.FinishReason;
            usage ??= update.Usage;
        }

        Assert.Equal(Expected(), text.ToString());
        Assert.Equal(ChatFinishReason.Length, finish);
        Assert.Equal(5, usage?.OutputTokenCount);
    }

    [Fact]
    public async Task ChatLogprobsListEachTokenWithItsTopAlternatives()
    {
        ChatCompletion completion = await _client.CompleteChatAsync([new UserChatMessage("hi")],
            new ChatCompletionOptions { MaxOutputTokenCount = 2, IncludeLogProbabilities = true, TopLogProbabilityCount = 3 });

        var first = completion.ContentTokenLogProbabilities[0];
        Assert.Equal(2, completion.ContentTokenLogProbabilities.Count);
        Assert.Equal((-0.125f, 3), (first.LogProbability, first.TopLogProbabilities.Count));
        Assert.Equal(Expected()[..1], first.Token);
    }

    [Fact]
    public async Task SeveralChoicesAreIndexedAndEachFollowsTheModel()
    {
        var r = await ServerHost.Json(await _server.Post("/v1/chat/completions", new { messages = new[] { new { role = "user", content = "hi" } }, n = 2, max_tokens = 3 }));

        var contents = r.GetProperty("choices").EnumerateArray().Select(c => c.GetProperty("message").GetProperty("content").GetString()).ToList();
        Assert.Equal([Expected(0), Expected(1)], contents);
    }

    [Fact]
    public async Task ContentGivenAsTextPartsIsJoinedByNewlines()
    {
        await _server.Post("/v1/chat/completions", new
        {
            messages = new object[] { new { role = "user", content = new object[] { new { type = "text", text = "one" }, new { type = "text", text = "two" } } } },
            max_tokens = 1,
        });

        Assert.Contains("<|user|>one\ntwo\n", new FakeTokenizer().Decode(_server.Engine.LastRequest.PromptTokenIds));
    }

    [Fact]
    public async Task TokenizeMessagesRendersThroughTheTemplate()
    {
        var r = await ServerHost.Json(await _server.Post("/tokenize", new { messages = new[] { new { role = "user", content = "hi" } } }));

        var tokens = r.GetProperty("tokens").EnumerateArray().Select(t => t.GetInt32()).ToList();
        Assert.Equal("<s><|user|>hi\n<|assistant|>", new FakeTokenizer().Decode(tokens, skipSpecialTokens: false));
    }

    [Fact]
    public async Task TopLogprobsOutOfRangeIs400NamingTopLogprobs()
    {
        var response = await _server.Post("/v1/chat/completions", new { messages = new[] { new { role = "user", content = "hi" } }, logprobs = true, top_logprobs = 21 });

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("top_logprobs", (await ServerHost.Json(response)).GetProperty("error").GetProperty("param").GetString());
    }

    [Fact]
    public async Task EmptyMessagesIs400() =>
        Assert.Equal(HttpStatusCode.BadRequest, (await _server.Post("/v1/chat/completions", new { messages = Array.Empty<object>() })).StatusCode);

    [Fact]
    public async Task LongChatPromptIs400WithTheContextLength()
    {
        var response = await _server.Post("/v1/chat/completions", new { messages = new[] { new { role = "user", content = new string('a', 200) } } });

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.StartsWith("This model's maximum context length is 128 tokens.", (await ServerHost.Json(response)).GetProperty("error").GetProperty("message").GetString());
    }
}

/// <summary>Where the chat template comes from.</summary>
public sealed class ChatTemplateSourceTests
{
    private static async Task<(HttpResponseMessage Response, string Prompt)> Chat(Action<LlmEngine.Host.Api.ServerOptions> configure)
    {
        await using var server = await ServerHost.Start(configure: configure);
        var response = await server.Post("/v1/chat/completions", new { messages = new[] { new { role = "user", content = "hi" } }, max_tokens = 1 });
        var prompt = server.Engine.Requests.IsEmpty ? "" : new FakeTokenizer().Decode(server.Engine.LastRequest.PromptTokenIds, skipSpecialTokens: false);
        return (response, prompt);
    }

    [Fact]
    public async Task ModelWithoutTemplateIs400SayingSo()
    {
        var (response, _) = await Chat(o => o.ModelDirectory = TestModel.Create(new { bos_token = "<s>" }));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("no chat template", (await ServerHost.Json(response)).GetProperty("error").GetProperty("message").GetString());
    }

    [Fact]
    public async Task ChatTemplateFileOverridesTheModels()
    {
        var file = Path.Combine(TestModel.Create(new { }), "override.jinja");
        File.WriteAllText(file, "{% for m in messages %}[{{ m.content }}]{% endfor %}{{ eos_token }}");

        var (_, prompt) = await Chat(o => o.ChatTemplate = file);

        Assert.Equal("[hi]</s>", prompt);
    }

    [Fact]
    public async Task NamedTemplateListUsesTheDefaultOne()
    {
        var dir = TestModel.Create(new
        {
            bos_token = new { content = "<s>" },
            chat_template = new[] { new { name = "tool_use", template = "TOOLS" }, new { name = "default", template = "{{ bos_token }}D:{{ messages[0].content }}" } },
        });

        var (_, prompt) = await Chat(o => o.ModelDirectory = dir);

        Assert.Equal("<s>D:hi", prompt);
    }

    [Fact]
    public async Task TemplateThatRaisesIs400()
    {
        var dir = TestModel.Create(new { chat_template = "{{ raise_exception('Conversation roles must alternate') }}" });

        var (response, _) = await Chat(o => o.ModelDirectory = dir);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("Conversation roles must alternate", (await ServerHost.Json(response)).GetProperty("error").GetProperty("message").GetString());
    }

    [Fact]
    public void MissingChatTemplateFileStopsTheServerFromBuilding() =>
        Assert.Throws<FileNotFoundException>(() => LlmEngine.Host.Api.OpenAiServer.Build(new FakeEngine(),
            new LlmEngine.Host.Api.ServerOptions { Port = 0, ChatTemplate = "/no/such/template.jinja" }));
}
