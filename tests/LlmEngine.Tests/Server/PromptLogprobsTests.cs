using System.Net;
using System.Text.Json;

namespace LlmEngine.Tests.Server;

/// <summary>Scored prompts on the API: echo with logprobs fills the echoed tokens' logprobs (null
/// only for the first token), and prompt_logprobs lists vLLM's entries per prompt token, keyed by
/// token id, with logprob, rank and decoded_token. <see cref="FakeModel.ScorePrompt"/> gives token
/// i the logprob -i / 4 at rank i.</summary>
public sealed class PromptLogprobsTests : IAsyncLifetime
{
    private ServerHost _server = null!;

    public async Task InitializeAsync() => _server = await ServerHost.Start();
    public async Task DisposeAsync() => await _server.DisposeAsync();

    private async Task<JsonElement> Post(string path, object body)
    {
        var response = await _server.Post(path, body);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await ServerHost.Json(response);
    }

    private static double?[] TokenLogprobs(JsonElement logprobs) =>
        [.. logprobs.GetProperty("token_logprobs").EnumerateArray().Select(v => v.ValueKind == JsonValueKind.Null ? (double?)null : v.GetDouble())];

    [Fact]
    public async Task EchoWithLogprobsScoresEveryPromptTokenButTheFirst()
    {
        var r = await Post("/v1/completions", new { prompt = "ab", max_tokens = 1, echo = true, logprobs = 1 });

        var lp = r.GetProperty("choices")[0].GetProperty("logprobs");
        Assert.Equal([null, -0.25, -0.5, -0.125], TokenLogprobs(lp));
        Assert.Equal(JsonValueKind.Null, lp.GetProperty("top_logprobs")[0].ValueKind);
        Assert.Equal(-0.5, lp.GetProperty("top_logprobs")[2].GetProperty("b").GetDouble());
    }

    [Fact]
    public async Task EchoWithLogprobsScoresThePromptInTheFirstStreamedChunk()
    {
        var response = await _server.Post("/v1/completions", new { prompt = "ab", max_tokens = 2, echo = true, logprobs = 0, stream = true });
        var body = await response.Content.ReadAsStringAsync();
        var first = JsonDocument.Parse(body.Split("\n\n")[0]["data: ".Length..]).RootElement;

        var lp = first.GetProperty("choices")[0].GetProperty("logprobs");
        Assert.Equal([null, -0.25, -0.5, -0.125], TokenLogprobs(lp));
    }

    [Fact]
    public async Task PromptLogprobsGiveEachPromptTokenItsLogprobRankAndText()
    {
        var r = await Post("/v1/completions", new { prompt = "ab", max_tokens = 1, prompt_logprobs = 1 });

        var scores = r.GetProperty("choices")[0].GetProperty("prompt_logprobs");
        Assert.Equal(3, scores.GetArrayLength());
        Assert.Equal(JsonValueKind.Null, scores[0].ValueKind);
        var b = scores[2].GetProperty(((int)'b' + FakeTokenizer.Offset).ToString());
        Assert.Equal((-0.5, 2, "b"), (b.GetProperty("logprob").GetDouble(), b.GetProperty("rank").GetInt32(), b.GetProperty("decoded_token").GetString()));
        var alternative = scores[2].GetProperty(((int)'a' + FakeTokenizer.Offset).ToString());
        Assert.Equal((-1.5, 1), (alternative.GetProperty("logprob").GetDouble(), alternative.GetProperty("rank").GetInt32()));
    }

    [Fact]
    public async Task ChoicesCarryNoPromptLogprobsUnlessAsked()
    {
        var r = await Post("/v1/completions", new { prompt = "ab", max_tokens = 1, logprobs = 1 });

        Assert.False(r.GetProperty("choices")[0].TryGetProperty("prompt_logprobs", out _));
        Assert.Null(_server.Engine.LastRequest.Sampling.PromptLogprobs);
    }

    [Fact]
    public async Task ChatReturnsTheTemplatedPromptsLogprobs()
    {
        var r = await Post("/v1/chat/completions", new { messages = new[] { new { role = "user", content = "hi" } }, max_tokens = 1, prompt_logprobs = 0 });

        var scores = r.GetProperty("prompt_logprobs");
        Assert.Equal(_server.Engine.LastRequest.PromptTokenIds.Count, scores.GetArrayLength());
        Assert.Equal(JsonValueKind.Null, scores[0].ValueKind);
        Assert.Equal(JsonValueKind.Object, scores[1].ValueKind);
    }
}
