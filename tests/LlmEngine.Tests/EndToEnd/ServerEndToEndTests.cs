using System.ClientModel;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using LlmEngine.Actors.Engine;
using LlmEngine.Host.Cli;
using LlmEngine.Kernels.Sampling;
using OpenAI;
using OpenAI.Chat;

namespace LlmEngine.Tests.EndToEnd;

/// <summary>The OpenAI-compatible server over the real engine and model: what HTTP clients get is
/// what <c>generate</c> writes, chat templates come from --chat-template, and a client that hangs
/// up midway leaves no block behind.</summary>
[Trait("Category", "EndToEnd")]
public sealed class ServerEndToEndTests(Stories260KServer server) : IClassFixture<Stories260KServer>
{
    private const string Prompt = "Once upon a time, there was a";

    /// <summary>The <c>generate</c> command's output line for one prompt (its own parsing and output code).</summary>
    private async Task<JsonElement> Generate(string line)
    {
        var parsed = GenerateLine.Parse(line, new SamplingParameters(), server.Engine.Tokenizer);
        var request = new GenerationRequest("gen-0", parsed.PromptTokenIds, parsed.Sampling, parsed.Prompt);
        return JsonDocument.Parse(await GenerateOutput.RunAsync(server.Engine, request, CancellationToken.None)).RootElement;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task GreedyCompletionOverHttpEqualsGenerate(bool stream)
    {
        var expected = await Generate(JsonSerializer.Serialize(new { prompt = Prompt, max_tokens = 40, temperature = 0 }));

        var response = await server.Http.PostAsJsonAsync("/v1/completions",
            new { model = server.Model, prompt = Prompt, max_tokens = 40, temperature = 0, stream });
        var (text, finish) = stream ? await Streamed(response) : Whole(await Stories260KServer.Json(response));

        Assert.Equal(expected.GetProperty("text").GetString(), text);
        Assert.Equal(expected.GetProperty("finish_reason").GetString(), finish);
    }

    private static (string, string?) Whole(JsonElement body) =>
        (body.GetProperty("choices")[0].GetProperty("text").GetString()!, body.GetProperty("choices")[0].GetProperty("finish_reason").GetString());

    private static async Task<(string, string?)> Streamed(HttpResponseMessage response)
    {
        var text = new StringBuilder();
        string? finish = null;
        foreach (var data in (await response.Content.ReadAsStringAsync()).Split("\n\n", StringSplitOptions.RemoveEmptyEntries))
        {
            Assert.StartsWith("data: ", data);
            if (data == "data: [DONE]") break;
            var choice = JsonDocument.Parse(data["data: ".Length..]).RootElement.GetProperty("choices")[0];
            text.Append(choice.GetProperty("text").GetString());
            finish = choice.GetProperty("finish_reason").GetString() ?? finish;
        }
        return (text.ToString(), finish);
    }

    private ChatClient Chat(Uri address) =>
        new(server.Model, new ApiKeyCredential("unused"), new OpenAIClientOptions { Endpoint = new Uri(address, "v1") });

    [Fact]
    public async Task ChatWithATemplateFileAnswersTheRenderedPromptsGreedyCompletionStreamedAndNot()
    {
        var rendered = "<|im_start|>user\nTell me a story.<|im_end|>\n<|im_start|>assistant\n";
        var expected = await Generate(JsonSerializer.Serialize(new
        {
            prompt_token_ids = server.Engine.Tokenizer!.Encode(rendered, addSpecialTokens: false), max_tokens = 24, temperature = 0,
        }));
        var client = Chat(server.ChatAddress);
        var options = new ChatCompletionOptions { Temperature = 0, MaxOutputTokenCount = 24 };

        ChatCompletion whole = await client.CompleteChatAsync([new UserChatMessage("Tell me a story.")], options);
        var streamed = new StringBuilder();
        await foreach (var update in client.CompleteChatStreamingAsync([new UserChatMessage("Tell me a story.")], options))
            foreach (var part in update.ContentUpdate) streamed.Append(part.Text);

        Assert.Equal(expected.GetProperty("text").GetString(), whole.Content.Count == 0 ? "" : whole.Content[0].Text);
        Assert.Equal(expected.GetProperty("text").GetString(), streamed.ToString());
    }

    [Fact]
    public async Task ChatWithoutATemplateIsABadRequest()
    {
        var e = await Assert.ThrowsAsync<ClientResultException>(() =>
            Chat(server.PlainAddress).CompleteChatAsync([new UserChatMessage("Tell me a story.")], new ChatCompletionOptions { MaxOutputTokenCount = 4 }));

        Assert.Equal(400, e.Status);
        Assert.Contains("chat template", e.Message);
    }

    [Fact]
    public async Task StreamClosedMidwayFreesEveryBlockAndTheRequestDoesNotFinish()
    {
        var before = await server.WhenAllBlocksFree();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/completions")
        {
            Content = JsonContent.Create(new { model = server.Model, prompt = Prompt, max_tokens = 480, temperature = 0, ignore_eos = true, stream = true }),
        };

        // HttpClient would otherwise drain the rest of the body (up to 2 s) to reuse the connection.
        using var hangsUp = new HttpClient(new SocketsHttpHandler { MaxResponseDrainSize = 0 }) { BaseAddress = server.PlainAddress };
        using (var response = await hangsUp.SendAsync(request, HttpCompletionOption.ResponseHeadersRead))
        {
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
            for (int events = 0; events < 3;)
                if ((await reader.ReadLineAsync())!.StartsWith("data: ")) events++;
        }
        var after = await server.WhenAllBlocksFree();

        Assert.Equal(after.BlocksTotal, after.BlocksFree);
        Assert.Equal(before.RequestsSucceeded, after.RequestsSucceeded);
        Assert.Null(await server.Engine.CheckBlockInvariantsAsync());
    }
}
