using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;

namespace LlmEngine.Tests.Server;

/// <summary>Each failure is an OpenAI error object with a fitting status, and the server goes on serving.</summary>
public sealed class ErrorTests : IAsyncLifetime
{
    private ServerHost _server = null!;

    public async Task InitializeAsync() => _server = await ServerHost.Start(configure: o => o.MaxRequestBodyBytes = 64 * 1024);
    public async Task DisposeAsync() => await _server.DisposeAsync();

    private async Task<JsonElement> AssertError(HttpResponseMessage response, HttpStatusCode status, string? param = null, string type = "invalid_request_error")
    {
        Assert.Equal(status, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        var error = (await ServerHost.Json(response)).GetProperty("error");
        Assert.Equal(type, error.GetProperty("type").GetString());
        Assert.False(string.IsNullOrEmpty(error.GetProperty("message").GetString()));
        if (param is not null) Assert.Equal(param, error.GetProperty("param").GetString());
        await AssertStillServes();
        return error;
    }

    private async Task AssertStillServes()
    {
        var ok = await _server.Post("/v1/completions", new { prompt = "ok", max_tokens = 1 });
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
    }

    [Fact]
    public async Task MalformedJsonIs400InvalidRequest() =>
        await AssertError(await _server.PostRaw("/v1/completions", "{\"prompt\": \"abc\","), HttpStatusCode.BadRequest);

    [Fact]
    public async Task NonObjectBodyIs400() =>
        await AssertError(await _server.PostRaw("/v1/completions", "[1, 2]"), HttpStatusCode.BadRequest);

    [Theory]
    [InlineData("""{"prompt": "abc", "max_tokens": "ten"}""", "max_tokens")]
    [InlineData("""{"prompt": "abc", "temperature": "hot"}""", "temperature")]
    [InlineData("""{"prompt": "abc", "stream": 1}""", "stream")]
    [InlineData("""{"prompt": "abc", "stop": 5}""", "stop")]
    [InlineData("""{"prompt": "abc", "n": 1.5}""", "n")]
    [InlineData("""{"prompt": {"text": "abc"}}""", "prompt")]
    [InlineData("""{"prompt": [1, "a"]}""", "prompt")]
    [InlineData("""{"prompt": "abc", "prompt_logprobs": "all"}""", "prompt_logprobs")]
    [InlineData("""{"prompt": "abc", "skip_special_tokens": "no"}""", "skip_special_tokens")]
    [InlineData("""{"prompt": "abc", "spaces_between_special_tokens": 0}""", "spaces_between_special_tokens")]
    public async Task WrongTypeIs400NamingTheField(string body, string field)
    {
        var error = await AssertError(await _server.PostRaw("/v1/completions", body), HttpStatusCode.BadRequest, field);
        Assert.Contains($"'{field}'", error.GetProperty("message").GetString());
    }

    [Theory]
    [InlineData("""{"prompt": "abc", "temperature": -1}""", "temperature")]
    [InlineData("""{"prompt": "abc", "top_p": 2}""", "top_p")]
    [InlineData("""{"prompt": "abc", "max_tokens": 0}""", "max_tokens")]
    [InlineData("""{"prompt": "abc", "n": 0}""", "n")]
    [InlineData("""{"prompt": "abc", "logprobs": 21}""", "logprobs")]
    [InlineData("""{"prompt": "abc", "prompt_logprobs": 21}""", "prompt_logprobs")]
    [InlineData("""{"prompt": "abc", "prompt_logprobs": -1}""", "prompt_logprobs")]
    [InlineData("""{"prompt": "abc", "presence_penalty": 3}""", "presence_penalty")]
    [InlineData("""{"prompt": "abc", "stop": [""]}""", "stop")]
    public async Task OutOfRangeValueIs400NamingTheField(string body, string field) =>
        await AssertError(await _server.PostRaw("/v1/completions", body), HttpStatusCode.BadRequest, field);

    [Fact]
    public async Task UnknownModelIs404ModelNotFound()
    {
        var error = await AssertError(await _server.Post("/v1/completions", new { model = "gpt-9", prompt = "abc" }), HttpStatusCode.NotFound, "model", "NotFoundError");
        Assert.Equal("model_not_found", error.GetProperty("code").GetString());
        Assert.Equal("The model `gpt-9` does not exist.", error.GetProperty("message").GetString());
    }

    [Fact]
    public async Task PromptPlusMaxTokensBeyondContextIs400WithVllmWording()
    {
        var error = await AssertError(await _server.Post("/v1/completions", new { prompt = new string('a', 99), max_tokens = 40 }), HttpStatusCode.BadRequest);

        Assert.Equal("This model's maximum context length is 128 tokens. However, you requested 140 tokens (100 in the messages, 40 in the completion). "
            + "Please reduce the length of the messages or completion.", error.GetProperty("message").GetString());
    }

    [Theory]
    [InlineData("""{"prompt": ""}""")]
    [InlineData("""{"prompt": []}""")]
    [InlineData("""{"prompt": [[]]}""")]
    [InlineData("""{"max_tokens": 3}""")]
    public async Task EmptyOrMissingPromptIs400(string body) =>
        await AssertError(await _server.PostRaw("/v1/completions", body), HttpStatusCode.BadRequest, "prompt");

    [Fact]
    public async Task TokenIdOutsideTheVocabularyIs400() =>
        await AssertError(await _server.Post("/v1/completions", new { prompt = new[] { 5, 100000 } }), HttpStatusCode.BadRequest, "prompt");

    [Fact]
    public async Task OversizedBodyIs413()
    {
        var body = JsonSerializer.Serialize(new { prompt = new string('a', 100 * 1024) });
        await AssertError(await _server.PostRaw("/v1/completions", body), HttpStatusCode.RequestEntityTooLarge);
    }

    [Fact]
    public async Task UnsupportedContentTypeIs415() =>
        await AssertError(await _server.PostRaw("/v1/completions", "prompt=abc", "application/x-www-form-urlencoded"), HttpStatusCode.UnsupportedMediaType);

    [Fact]
    public async Task WrongMethodIs405() =>
        await AssertError(await _server.Http.GetAsync("/v1/completions"), HttpStatusCode.MethodNotAllowed);

    [Fact]
    public async Task UnknownRouteIs404() =>
        await AssertError(await _server.Http.GetAsync("/v1/nothing-here"), HttpStatusCode.NotFound);

    [Fact]
    public async Task EngineNotServingIs503()
    {
        _server.Engine.IsServing = false;
        var response = await _server.Post("/v1/completions", new { prompt = "abc" });
        _server.Engine.IsServing = true;

        await AssertError(response, HttpStatusCode.ServiceUnavailable, type: "service_unavailable_error");
    }

    [Fact]
    public async Task UnexpectedEngineExceptionIs500()
    {
        _server.Engine.FailWith = new InvalidOperationException("engine exploded");
        var response = await _server.Post("/v1/completions", new { prompt = "abc" });
        _server.Engine.FailWith = null;

        var error = await AssertError(response, HttpStatusCode.InternalServerError, type: "server_error");
        Assert.Contains("engine exploded", error.GetProperty("message").GetString());
    }

    [Fact]
    public async Task EngineArgumentExceptionIs400NamingItsParameter()
    {
        // An error the engine finds itself (after the server's checks passed) is the caller's to fix.
        await using var server = await ServerHost.Start();
        server.Engine.FailWith = new ArgumentException("no such thing", "top_k");
        var response = await server.Post("/v1/completions", new { prompt = "abc" });

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var error = (await ServerHost.Json(response)).GetProperty("error");
        Assert.Equal(("top_k", "no such thing"), (error.GetProperty("param").GetString(), error.GetProperty("message").GetString()));
    }
}

public sealed class ApiKeyTests : IAsyncLifetime
{
    private ServerHost _server = null!;

    public async Task InitializeAsync() => _server = await ServerHost.Start(configure: o => o.ApiKey = "sekret");
    public async Task DisposeAsync() => await _server.DisposeAsync();

    private Task<HttpResponseMessage> Send(string? key)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, "/v1/models");
        if (key is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return _server.Http.SendAsync(request);
    }

    [Fact]
    public async Task MissingApiKeyIs401()
    {
        var response = await Send(null);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("invalid_api_key", (await ServerHost.Json(response)).GetProperty("error").GetProperty("code").GetString());
    }

    [Fact]
    public async Task WrongApiKeyIs401() => Assert.Equal(HttpStatusCode.Unauthorized, (await Send("guess")).StatusCode);

    [Fact]
    public async Task RightApiKeyIsServed() => Assert.Equal(HttpStatusCode.OK, (await Send("sekret")).StatusCode);

    [Fact]
    public async Task RoutesOutsideV1NeedNoKey() => Assert.Equal(HttpStatusCode.OK, (await _server.Http.GetAsync("/health")).StatusCode);
}
