using System.Net;
using System.Text.Json;

namespace LlmEngine.Tests.Server;

public sealed class CompletionsTests : IAsyncLifetime
{
    private ServerHost _server = null!;

    public async Task InitializeAsync() => _server = await ServerHost.Start();
    public async Task DisposeAsync() => await _server.DisposeAsync();

    private async Task<JsonElement> Complete(object body)
    {
        var response = await _server.Post("/v1/completions", body);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await ServerHost.Json(response);
    }

    [Fact]
    public async Task CompletionReturnsTheModelsTextAsATextCompletion()
    {
        var r = await Complete(new { model = "fake-model", prompt = "abc", max_tokens = 5 });

        Assert.Equal("text_completion", r.GetProperty("object").GetString());
        Assert.StartsWith("cmpl-", r.GetProperty("id").GetString());
        Assert.Equal("fake-model", r.GetProperty("model").GetString());
        var choice = r.GetProperty("choices")[0];
        Assert.Equal("abcab", choice.GetProperty("text").GetString());
        Assert.Equal("length", choice.GetProperty("finish_reason").GetString());
        Assert.Equal(JsonValueKind.Null, choice.GetProperty("logprobs").ValueKind);
    }

    [Fact]
    public async Task UsageCountsPromptWithBosAndCompletionTokens()
    {
        var usage = (await Complete(new { prompt = "abc", max_tokens = 5 })).GetProperty("usage");

        Assert.Equal((4, 5, 9), (usage.GetProperty("prompt_tokens").GetInt32(), usage.GetProperty("completion_tokens").GetInt32(), usage.GetProperty("total_tokens").GetInt32()));
    }

    [Fact]
    public async Task MaxTokensDefaultsToSixteen()
    {
        await Complete(new { prompt = "abc" });

        Assert.Equal(16, _server.Engine.LastRequest.Sampling.MaxTokens);
    }

    [Fact]
    public async Task SeveralPromptsTimesNChoicesAreIndexedPromptMajor()
    {
        var r = await Complete(new { prompt = new[] { "abc", "xyz" }, n = 2, max_tokens = 3 });

        var texts = r.GetProperty("choices").EnumerateArray().Select(c => (c.GetProperty("index").GetInt32(), c.GetProperty("text").GetString())).ToList();
        Assert.Equal([(0, "abc"), (1, "bca"), (2, "xyz"), (3, "yzx")], texts);
    }

    [Fact]
    public async Task TokenIdPromptsArePassedThroughUntokenised()
    {
        int[][] prompts = [[3 + 'h', 3 + 'i'], [3 + 'o']];
        var r = await Complete(new { prompt = prompts, max_tokens = 2 });

        Assert.Equal(["hi", "oo"], r.GetProperty("choices").EnumerateArray().Select(c => c.GetProperty("text").GetString()));
        Assert.Contains(_server.Engine.Requests, q => q.PromptTokenIds.SequenceEqual([3 + 'o']));
    }

    [Fact]
    public async Task SingleTokenIdListIsOnePrompt()
    {
        var r = await Complete(new { prompt = new[] { 3 + 'a', 3 + 'b' }, max_tokens = 3 });

        Assert.Equal("aba", r.GetProperty("choices")[0].GetProperty("text").GetString());
    }

    [Fact]
    public async Task StopStringEndsTheChoiceWithoutTheStopText()
    {
        var r = await Complete(new { prompt = "hello", max_tokens = 20, stop = new[] { "ll", "zz" } });

        var choice = r.GetProperty("choices")[0];
        Assert.Equal(("he", "stop"), (choice.GetProperty("text").GetString(), choice.GetProperty("finish_reason").GetString()));
    }

    [Fact]
    public async Task EosAfterAPeriodStopsUnlessIgnoreEos()
    {
        var stopped = await Complete(new { prompt = "ab.", max_tokens = 10 });
        var ignored = await Complete(new { prompt = "ab.", max_tokens = 5, ignore_eos = true });

        Assert.Equal("ab.", stopped.GetProperty("choices")[0].GetProperty("text").GetString());
        Assert.Equal("ab.ab", ignored.GetProperty("choices")[0].GetProperty("text").GetString());
    }

    [Fact]
    public async Task EchoPrependsThePrompt()
    {
        var r = await Complete(new { prompt = "abc", max_tokens = 2, echo = true });

        Assert.Equal("abcab", r.GetProperty("choices")[0].GetProperty("text").GetString());
    }

    [Fact]
    public async Task LogprobsUseTheCompletionsFormat()
    {
        var r = await Complete(new { prompt = "ab", max_tokens = 2, logprobs = 2 });

        var lp = r.GetProperty("choices")[0].GetProperty("logprobs");
        Assert.Equal(["a", "b"], lp.GetProperty("tokens").EnumerateArray().Select(t => t.GetString()));
        Assert.Equal([-0.125, -0.25], lp.GetProperty("token_logprobs").EnumerateArray().Select(t => t.GetDouble()));
        Assert.Equal([0, 1], lp.GetProperty("text_offset").EnumerateArray().Select(t => t.GetInt32()));
        var top = lp.GetProperty("top_logprobs")[1];
        Assert.Equal(-0.25, top.GetProperty("b").GetDouble());
        Assert.Equal(-1.25, top.GetProperty("a").GetDouble());
    }

    [Fact]
    public async Task SamplingFieldsReachTheEngine()
    {
        await Complete(new
        {
            prompt = "abc", max_tokens = 4, temperature = 0.5, top_p = 0.9, top_k = 7, min_p = 0.05, seed = 42, n = 2,
            stop = "zz", stop_token_ids = new[] { 5 }, min_tokens = 1, presence_penalty = 0.5, frequency_penalty = -0.5,
            repetition_penalty = 1.2, use_beam_search = true, length_penalty = 0.7, early_stopping = true, user = "u1",
        });

        var s = _server.Engine.LastRequest.Sampling;
        Assert.Equal((0.5, 0.9, 7, 0.05, 42L, 2, 1), (s.Temperature, s.TopP, s.TopK, s.MinP, s.Seed!.Value, s.N, s.MinTokens));
        Assert.Equal((0.5, -0.5, 1.2, true, 0.7, "true"), (s.PresencePenalty, s.FrequencyPenalty, s.RepetitionPenalty, s.UseBeamSearch, s.LengthPenalty, s.EarlyStopping));
        Assert.Equal(["zz"], s.Stop);
        Assert.Equal([5], s.StopTokenIds);
    }
}
