using System.Net;

namespace LlmEngine.Tests.Server;

/// <summary>vLLM's truncate_prompt_tokens: only the prompt's last k tokens reach the engine (-1: the
/// model's maximum length), for text and token prompts and for chat; a text too long for the context
/// is accepted when truncated; k out of range is a 400 naming it.</summary>
public sealed class TruncatePromptTokensTests : IAsyncLifetime
{
    private ServerHost _server = null!;

    public async Task InitializeAsync() => _server = await ServerHost.Start();
    public async Task DisposeAsync() => await _server.DisposeAsync();

    private static int Id(char c) => c + FakeTokenizer.Offset;

    [Fact]
    public async Task ATextPromptKeepsItsLastTokensAndEchoesThem()
    {
        var r = await ServerHost.Json(await _server.Post("/v1/completions", new { prompt = "abcd", max_tokens = 1, echo = true, truncate_prompt_tokens = 2 }));

        Assert.Equal([Id('c'), Id('d')], _server.Engine.LastRequest.PromptTokenIds);
        Assert.StartsWith("cd", r.GetProperty("choices")[0].GetProperty("text").GetString());
    }

    [Fact]
    public async Task ATokenPromptKeepsItsLastTokens()
    {
        await _server.Post("/v1/completions", new { prompt = new[] { 5, 6, 7, 8 }, max_tokens = 1, truncate_prompt_tokens = 3 });

        Assert.Equal([6, 7, 8], _server.Engine.LastRequest.PromptTokenIds);
    }

    [Fact]
    public async Task ATextTooLongForTheContextIsAcceptedWhenTruncated()
    {
        var response = await _server.Post("/v1/completions", new { prompt = new string('a', 5000) + "xyz", max_tokens = 1, truncate_prompt_tokens = 3 });

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal([Id('x'), Id('y'), Id('z')], _server.Engine.LastRequest.PromptTokenIds);
    }

    [Fact]
    public async Task ChatKeepsTheTemplatedPromptsLastTokens()
    {
        await _server.Post("/v1/chat/completions", new { messages = new[] { new { role = "user", content = "hello there" } }, max_tokens = 1, truncate_prompt_tokens = 4 });

        Assert.Equal(4, _server.Engine.LastRequest.PromptTokenIds.Count);
    }

    [Fact]
    public async Task MinusOneKeepsUpToTheModelsLength()
    {
        await _server.Post("/v1/completions", new { prompt = "abc", max_tokens = 1, truncate_prompt_tokens = -1 });

        Assert.Equal(4, _server.Engine.LastRequest.PromptTokenIds.Count);
    }

    [Theory]
    [InlineData("""{"prompt": "abc", "truncate_prompt_tokens": 0}""")]
    [InlineData("""{"prompt": "abc", "truncate_prompt_tokens": 129}""")]
    [InlineData("""{"prompt": "abc", "truncate_prompt_tokens": "all"}""")]
    public async Task AnImpossibleValueIs400NamingIt(string body)
    {
        var response = await _server.PostRaw("/v1/completions", body);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("truncate_prompt_tokens", (await ServerHost.Json(response)).GetProperty("error").GetProperty("param").GetString());
    }
}
