using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace LlmEngine.Tests.EndToEnd;

/// <summary>logit_bias and skip_special_tokens on stories260K, over both endpoints: a bias of 100
/// forces its token whatever the model prefers, a bad bias is a 400 naming the field, and special
/// tokens show in the text only when skip_special_tokens is false (a stop token never, unless
/// include_stop_str_in_output asks for it, as in vLLM).</summary>
[Trait("Category", "EndToEnd")]
public sealed class SamplingControlsEndToEndTests(Stories260KServer server) : IClassFixture<Stories260KServer>
{
    private const string Prompt = "Once upon a time, there was a";
    private const int Forced = 300;
    private const int Bos = 1;

    private string TokenText(params int[] ids) => server.Engine.Tokenizer!.Decode(ids, skipSpecialTokens: false);

    private async Task<JsonElement> Complete(object body) =>
        await Stories260KServer.Json(await server.Http.PostAsJsonAsync("/v1/completions", body));

    [Fact]
    public async Task ABiasOfOneHundredForcesItsTokenOnCompletions()
    {
        var reply = await Complete(new
        {
            prompt = Prompt, max_tokens = 6, temperature = 1.0, seed = 7, ignore_eos = true, logprobs = 0,
            logit_bias = new Dictionary<string, double> { [$"{Forced}"] = 100 },
        });
        var tokens = reply.GetProperty("choices")[0].GetProperty("logprobs").GetProperty("tokens").EnumerateArray().Select(t => t.GetString()).ToList();
        Assert.Equal(Enumerable.Repeat(TokenText(Forced), 6), tokens);
    }

    [Fact]
    public async Task ABiasOfOneHundredForcesItsTokenOnChat()
    {
        using var chat = new HttpClient { BaseAddress = server.ChatAddress };
        var reply = await Stories260KServer.Json(await chat.PostAsJsonAsync("/v1/chat/completions", new
        {
            messages = new[] { new { role = "user", content = "Tell me a story." } }, max_tokens = 5, temperature = 1.0, seed = 3,
            ignore_eos = true, logprobs = true, logit_bias = new Dictionary<string, double> { [$"{Forced}"] = 100 },
        }));
        var content = reply.GetProperty("choices")[0].GetProperty("logprobs").GetProperty("content");
        Assert.Equal(Enumerable.Repeat(TokenText(Forced), 5), content.EnumerateArray().Select(t => t.GetProperty("token").GetString()));
    }

    [Fact]
    public async Task MinusOneHundredOnTheGreedyFirstTokenMakesGreedyChooseAnother()
    {
        var greedy = await Complete(new { prompt = Prompt, max_tokens = 1, temperature = 0, logprobs = 1 });
        var first = greedy.GetProperty("choices")[0].GetProperty("logprobs").GetProperty("tokens")[0].GetString()!;
        var id = Enumerable.Range(0, 512).First(i => TokenText(i) == first);

        var biased = await Complete(new
        {
            prompt = Prompt, max_tokens = 1, temperature = 0, logprobs = 1,
            logit_bias = new Dictionary<string, double> { [$"{id}"] = -100 },
        });
        Assert.NotEqual(first, biased.GetProperty("choices")[0].GetProperty("logprobs").GetProperty("tokens")[0].GetString());
    }

    public static TheoryData<string, string, string> BadBiases => new()
    {
        { "/v1/completions", """{"600": 5}""", "token_id(s) [600] in logit_bias contain out-of-vocab token ids. Vocabulary size: 512" },
        { "/v1/chat/completions", """{"7": 1, "512": 5, "999": 2}""", "token_id(s) [512, 999] in logit_bias contain out-of-vocab token ids. Vocabulary size: 512" },
        { "/v1/completions", """{"7": 100.5}""", "logit_bias values must be in [-100, 100], got 100.5 for token 7" },
        { "/v1/chat/completions", """{"-3": 1}""", "'logit_bias' keys must be token ids (non-negative integers), got \"-3\"" },
        { "/v1/completions", """{"abc": 1}""", "'logit_bias' keys must be token ids (non-negative integers), got \"abc\"" },
        { "/v1/completions", """{"7": "high"}""", "'logit_bias' must be an object from token ids to numbers, got the string \"high\"" },
        { "/v1/completions", """[7]""", "'logit_bias' must be an object from token ids to numbers, got a list" },
    };

    [Theory]
    [MemberData(nameof(BadBiases))]
    public async Task ABadBiasIsABadRequestNamingTheField(string path, string bias, string message)
    {
        var request = path == "/v1/completions"
            ? $$"""{"prompt": "{{Prompt}}", "max_tokens": 2, "logit_bias": {{bias}}}"""
            : $$"""{"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 2, "logit_bias": {{bias}}}""";
        using var http = new HttpClient { BaseAddress = path == "/v1/completions" ? server.PlainAddress : server.ChatAddress };
        var response = await http.PostAsync(path, new StringContent(request, System.Text.Encoding.UTF8, "application/json"));
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, body);
        var error = JsonDocument.Parse(body).RootElement.GetProperty("error");
        Assert.Equal((message, "logit_bias"), (error.GetProperty("message").GetString(), error.GetProperty("param").GetString()));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task SpecialTokensShowOnlyWhenSkipSpecialTokensIsFalse(bool skip)
    {
        var reply = await Complete(new
        {
            prompt = Prompt, max_tokens = 3, temperature = 0, ignore_eos = true, skip_special_tokens = skip,
            logit_bias = new Dictionary<string, double> { [$"{Bos}"] = 100 },
        });
        var expected = skip ? "" : TokenText(Bos, Bos, Bos);
        Assert.NotEqual("", TokenText(Bos));
        Assert.Equal(expected, reply.GetProperty("choices")[0].GetProperty("text").GetString());
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task TheStopTokenShowsOnlyWhenIncludeStopStrInOutputAsks(bool include)
    {
        int eos = server.Engine.EosTokenIds[0];
        var reply = await Complete(new
        {
            prompt = Prompt, max_tokens = 5, temperature = 0, skip_special_tokens = false, include_stop_str_in_output = include,
            logit_bias = new Dictionary<string, double> { [$"{eos}"] = 100 },
        });
        var choice = reply.GetProperty("choices")[0];
        Assert.True(choice.GetProperty("finish_reason").GetString() == "stop", choice.ToString());
        Assert.NotEqual("", TokenText(eos));
        Assert.Equal(include ? TokenText(eos) : "", choice.GetProperty("text").GetString());
    }

    [Fact]
    public async Task BeamSearchAnswersCarryLogprobsForEveryToken()
    {
        var reply = await Complete(new { prompt = Prompt, max_tokens = 8, temperature = 0, use_beam_search = true, n = 2, logprobs = 1 });
        var choices = reply.GetProperty("choices").EnumerateArray().ToList();
        Assert.Equal(2, choices.Count);
        foreach (var choice in choices)
        {
            var logprobs = choice.GetProperty("logprobs");
            var values = logprobs.GetProperty("token_logprobs").EnumerateArray().Select(v => v.GetDouble()).ToList();
            Assert.NotEmpty(values);
            Assert.All(values, v => Assert.True(v <= 0));
            Assert.Equal(values.Count, logprobs.GetProperty("tokens").GetArrayLength());
            Assert.All(logprobs.GetProperty("top_logprobs").EnumerateArray(), top => Assert.InRange(top.EnumerateObject().Count(), 1, 2));
        }
    }
}
