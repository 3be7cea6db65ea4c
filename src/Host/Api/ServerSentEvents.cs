using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace LlmEngine.Host.Api;

/// <summary>Server-sent events as OpenAI streams them: <c>data: {json}\n\n</c> per chunk, each
/// flushed at once, and <c>data: [DONE]\n\n</c> to end.</summary>
internal sealed class ServerSentEvents
{
    private static readonly byte[] DataPrefix = "data: "u8.ToArray();
    private static readonly byte[] EventEnd = "\n\n"u8.ToArray();
    private static readonly byte[] DoneEvent = "data: [DONE]\n\n"u8.ToArray();
    private readonly HttpResponse _response;
    private readonly CancellationToken _ct;

    private ServerSentEvents(HttpResponse response, CancellationToken ct) => (_response, _ct) = (response, ct);

    /// <summary>Sends the headers: text/event-stream, no caching, no buffering by proxies or the server.</summary>
    public static async Task<ServerSentEvents> Start(HttpContext context)
    {
        var response = context.Response;
        response.StatusCode = 200;
        response.ContentType = "text/event-stream; charset=utf-8";
        response.Headers.CacheControl = "no-cache";
        response.Headers["X-Accel-Buffering"] = "no";
        context.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
        await response.StartAsync(context.RequestAborted);
        return new ServerSentEvents(response, context.RequestAborted);
    }

    public Task Send<T>(T chunk) => SendJson(ApiJson.Bytes(chunk));

    public async Task SendJson(byte[] json)
    {
        await _response.Body.WriteAsync(DataPrefix, _ct);
        await _response.Body.WriteAsync(json, _ct);
        await _response.Body.WriteAsync(EventEnd, _ct);
        await _response.Body.FlushAsync(_ct);
    }

    /// <summary>A named event (<c>event: NAME</c>), as the Responses API streams its typed events.</summary>
    public async Task SendEvent(string name, byte[] json)
    {
        await _response.Body.WriteAsync(Encoding.UTF8.GetBytes($"event: {name}\n"), _ct);
        await SendJson(json);
    }

    public async Task Done()
    {
        await _response.Body.WriteAsync(DoneEvent, _ct);
        await _response.Body.FlushAsync(_ct);
    }
}
