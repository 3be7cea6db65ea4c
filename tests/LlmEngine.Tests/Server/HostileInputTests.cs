using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using LlmEngine.Actors.Engine;

namespace LlmEngine.Tests.Server;

/// <summary>Input an attacker would send gets a 4xx OpenAI error, never a 500, and the server goes on;
/// error bodies repeat no more than a bounded piece of what was sent and no internals.</summary>
public sealed class HostileInputTests : IAsyncLifetime
{
    private ServerHost _server = null!;

    public async Task InitializeAsync() => _server = await ServerHost.Start(configure: o => o.MaxRequestBodyBytes = 2 * 1024 * 1024);
    public async Task DisposeAsync() => await _server.DisposeAsync();

    private async Task<JsonElement> AssertStatus(HttpResponseMessage response, HttpStatusCode status)
    {
        Assert.Equal(status, response.StatusCode);
        var error = (await ServerHost.Json(response)).GetProperty("error");
        var ok = await _server.Post("/v1/completions", new { prompt = "ok", max_tokens = 1 });
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        return error;
    }

    public static TheoryData<string, string> InvalidTextBodies() => new()
    {
        { "/v1/completions", """{"prompt":"Hi \ud800 there","max_tokens":2}""" },
        { "/v1/completions", """{"prompt":"Hi","model":"\udfff"}""" },
        { "/v1/chat/completions", """{"messages":[{"role":"user","content":"\ud83d"}]}""" },
        { "/tokenize", """{"prompt":"a\udc00b"}""" },
        { "/detokenize", """{"tokens":[1],"\ud800":1}""" },
    };

    [Theory]
    [MemberData(nameof(InvalidTextBodies))]
    public async Task ALoneSurrogateInAnyStringIs400(string path, string body) =>
        await AssertStatus(await _server.PostRaw(path, body), HttpStatusCode.BadRequest);

    [Theory]
    [InlineData("/v1/completions")]
    [InlineData("/v1/chat/completions")]
    [InlineData("/tokenize")]
    public async Task InvalidUtf8Is400(string path)
    {
        var head = Encoding.UTF8.GetBytes(path == "/v1/chat/completions" ? """{"messages":[{"role":"user","content":"a""" : """{"prompt":"a""");
        byte[] tail = Encoding.UTF8.GetBytes(path == "/v1/chat/completions" ? "\"}]}" : "\"}");
        var content = new ByteArrayContent([.. head, 0xC3, 0x28, 0xFF, .. tail]);
        content.Headers.ContentType = new("application/json");
        await AssertStatus(await _server.Http.PostAsync(path, content), HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task MaxTokensThatWouldOverflowTheContextCheckIs400() =>
        await AssertStatus(await _server.Post("/v1/completions", new { prompt = "Hi", max_tokens = int.MaxValue }), HttpStatusCode.BadRequest);

    // The fake tokenizer's longest token is "<pad>" (5 characters): its 128-token context holds at most 1,280.
    public static TheoryData<string, string> OversizePrompts() => new()
    {
        { "/v1/completions", "prompt" },
        { "/v1/chat/completions", "messages" },
        { "/tokenize", "prompt" },
    };

    [Theory]
    [MemberData(nameof(OversizePrompts))]
    public async Task APromptLongerThanTheContextCouldHoldIs400BySizeBeforeTokenizing(string path, string field)
    {
        var text = new string('a', 1281);
        object body = field == "messages" ? new { messages = new[] { new { role = "user", content = text } } } : new { prompt = text };
        var error = await AssertStatus(await _server.Post(path, body), HttpStatusCode.BadRequest);
        Assert.Equal(field, error.GetProperty("param").GetString());
        Assert.Contains("characters long", error.GetProperty("message").GetString());
    }

    [Fact]
    public async Task AHugeModelNameIsEchoedTruncated()
    {
        var name = new string('m', 1_000_000);
        var error = await AssertStatus(await _server.Post("/v1/completions", new { prompt = "Hi", model = name }), HttpStatusCode.NotFound);
        Assert.True(error.GetProperty("message").GetString()!.Length < 1000);
    }

    [Fact]
    public async Task AChunkedBodyWithAnOverflowingChunkSizeIs400()
    {
        using var client = new TcpClient();
        await client.ConnectAsync(_server.BaseAddress.Host, _server.BaseAddress.Port);
        var stream = client.GetStream();
        var request = "POST /v1/completions HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n" +
                      "Transfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFFFFFFFFF\r\n{\"prompt\":\"Hi\"}\r\n0\r\n\r\n";
        await stream.WriteAsync(Encoding.ASCII.GetBytes(request));
        var buffer = new byte[4096];
        var read = await stream.ReadAsync(buffer).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        var response = Encoding.ASCII.GetString(buffer, 0, read);
        Assert.StartsWith("HTTP/1.1 400", response);
        var ok = await _server.Post("/v1/completions", new { prompt = "ok", max_tokens = 1 });
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
    }

    [Fact]
    public async Task AnUnexpectedErrorSendsItsFirstLineWithoutPathsOrStackTrace()
    {
        _server.Engine.FailWith = new InvalidOperationException(
            "gather(): index -1 is out of bounds\nException raised from gather at /home/build/libtorch/aten/src/ATen/native/Gather.cpp:42\nframe #0: c10::Error");
        var response = await _server.Post("/v1/completions", new { prompt = "abc" });
        _server.Engine.FailWith = null;
        var message = (await AssertStatus(response, HttpStatusCode.InternalServerError)).GetProperty("message").GetString()!;
        Assert.Contains("index -1 is out of bounds", message);
        Assert.DoesNotContain("/home", message);
        Assert.DoesNotContain("frame", message);
    }

    [Fact]
    public async Task AFullWaitingQueueIs503WithRetryAfter()
    {
        _server.Engine.FailWith = new EngineOverloadedException("the engine's waiting queue is full", TimeSpan.FromSeconds(2));
        var response = await _server.Post("/v1/completions", new { prompt = "abc" });
        _server.Engine.FailWith = null;
        Assert.Equal("2", response.Headers.RetryAfter?.ToString());
        Assert.Equal("engine_overloaded", (await AssertStatus(response, HttpStatusCode.ServiceUnavailable)).GetProperty("code").GetString());
    }

    [Fact]
    public async Task ADeadEngineFailsHealthWithItsReason()
    {
        _server.Engine.DeadReason = "AccessViolationException: simulated";
        var response = await _server.Http.GetAsync("/health");
        _server.Engine.DeadReason = null;
        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Contains("simulated", await response.Content.ReadAsStringAsync());
    }
}
