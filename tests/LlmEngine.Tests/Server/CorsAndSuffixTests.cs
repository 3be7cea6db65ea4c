using System.Net;

namespace LlmEngine.Tests.Server;

/// <summary>CORS as <c>--allowed-origins</c> sets it (none by default), and completions' suffix
/// refused with vLLM's message.</summary>
public sealed class CorsAndSuffixTests
{
    private static HttpRequestMessage Preflight(string origin) => new(HttpMethod.Options, "/v1/chat/completions")
    {
        Headers = { { "Origin", origin }, { "Access-Control-Request-Method", "POST" }, { "Access-Control-Request-Headers", "authorization,content-type" } },
    };

    [Fact]
    public async Task AnAllowedOriginsPreflightPassesEvenWithAnApiKeyAndItsRequestsCarryTheHeader()
    {
        await using var server = await ServerHost.Start(configure: o => { o.AllowedOrigins = ["https://app.example"]; o.ApiKey = "k"; });
        var preflight = await server.Http.SendAsync(Preflight("https://app.example"));
        Assert.Equal(HttpStatusCode.NoContent, preflight.StatusCode);
        Assert.Equal("https://app.example", preflight.Headers.GetValues("Access-Control-Allow-Origin").Single());
        Assert.Contains("POST", preflight.Headers.GetValues("Access-Control-Allow-Methods").Single());

        var other = await server.Http.SendAsync(Preflight("https://evil.example"));
        Assert.False(other.Headers.Contains("Access-Control-Allow-Origin"));

        var get = new HttpRequestMessage(HttpMethod.Get, "/v1/models") { Headers = { { "Origin", "https://app.example" }, { "Authorization", "Bearer k" } } };
        var response = await server.Http.SendAsync(get);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("https://app.example", response.Headers.GetValues("Access-Control-Allow-Origin").Single());
    }

    [Fact]
    public async Task ByDefaultThereAreNoCorsHeadersAndAStarAllowsAnyOrigin()
    {
        await using (var server = await ServerHost.Start())
        {
            var preflight = await server.Http.SendAsync(Preflight("https://app.example"));
            Assert.False(preflight.Headers.Contains("Access-Control-Allow-Origin"));
            Assert.NotEqual(HttpStatusCode.NoContent, preflight.StatusCode);
        }
        await using (var any = await ServerHost.Start(configure: o => o.AllowedOrigins = ["*"]))
            Assert.Equal("*", (await any.Http.SendAsync(Preflight("https://x.example"))).Headers.GetValues("Access-Control-Allow-Origin").Single());
    }

    [Fact]
    public async Task SuffixIsRefusedAsVllmRefusesIt()
    {
        await using var server = await ServerHost.Start();
        var response = await server.Post("/v1/completions", new { prompt = "a", suffix = "b", max_tokens = 1 });
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var error = (await ServerHost.Json(response)).GetProperty("error");
        Assert.Equal(("suffix is not currently supported", "suffix"), (error.GetProperty("message").GetString(), error.GetProperty("param").GetString()));
        Assert.Empty(server.Engine.Requests);
    }
}
