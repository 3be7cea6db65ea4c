using System.Net;
using System.Text.Json;

namespace LlmEngine.Tests.Server;

/// <summary>OpenAI's best_of on completions: best_of completions are generated, the n with the
/// highest cumulative logprob come back, and all count as completion tokens. With the prompt
/// "a.b", <see cref="FakeModel"/>'s choices are "a. EOS", ". EOS" and "ba. EOS"; token k scores
/// -(k + 1) / 8, so the shortest, choice 1, is the most likely.</summary>
public sealed class BestOfTests : IAsyncLifetime
{
    private ServerHost _server = null!;

    public async Task InitializeAsync() => _server = await ServerHost.Start();
    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task TheMostLikelyOfBestOfCompletionsIsReturned()
    {
        var response = await _server.Post("/v1/completions", new { prompt = "a.b", max_tokens = 5, best_of = 3, logprobs = 0 });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var r = await ServerHost.Json(response);

        var choices = r.GetProperty("choices");
        Assert.Equal(1, choices.GetArrayLength());
        Assert.Equal((0, "."), (choices[0].GetProperty("index").GetInt32(), choices[0].GetProperty("text").GetString()));
        Assert.Equal(3, _server.Engine.LastRequest.Sampling.N);
        Assert.Equal(9, r.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
    }

    [Theory]
    [InlineData("""{"prompt": "abc", "n": 2, "best_of": 1}""")]
    [InlineData("""{"prompt": "abc", "best_of": 2, "stream": true}""")]
    [InlineData("""{"prompt": "abc", "best_of": 0}""")]
    [InlineData("""{"prompt": "abc", "best_of": "two"}""")]
    public async Task AnImpossibleBestOfIs400NamingIt(string body)
    {
        var response = await _server.PostRaw("/v1/completions", body);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("best_of", (await ServerHost.Json(response)).GetProperty("error").GetProperty("param").GetString());
    }

    [Fact]
    public async Task BestOfEqualToNChangesNothing()
    {
        var r = await ServerHost.Json(await _server.Post("/v1/completions", new { prompt = "abc", max_tokens = 2, n = 2, best_of = 2 }));

        Assert.Equal(["ab", "bc"], r.GetProperty("choices").EnumerateArray().Select(c => c.GetProperty("text").GetString()));
    }
}
