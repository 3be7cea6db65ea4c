using System.Text.Json;
using LlmEngine.Actors.Cluster;
using LlmEngine.Actors.Engine;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace LlmEngine.Host.Api;

/// <summary>
/// On a cluster node, a request that names a model this node does not serve goes whole, as HTTP, to
/// a node that serves it (its OpenAI API, from the replicas' reports; the least loaded first, then
/// the next if it does not answer); that node's front door routes it among its model's replicas by
/// their caches. The answer, streamed or not, comes back as that node sent it. Only when no node
/// serves the model does the request reach the endpoint, which answers 404 model_not_found. A
/// forwarded request (<see cref="ForwardedHeader"/>) is never forwarded again.
/// </summary>
internal sealed class ModelForwarding(RequestDelegate next, ClusterEngine cluster, string servedModel)
{
    /// <summary>Set on a forwarded request: the forwarding node's cluster address.</summary>
    public const string ForwardedHeader = "X-Llm-Forwarded-By";

    /// <summary>The endpoints whose body names a model.</summary>
    private static readonly HashSet<string> Paths = ["/v1/completions", "/v1/chat/completions", "/tokenize", "/detokenize"];

    // Headers that describe one connection, not the message (RFC 9110 7.6.1), and the length, which
    // the copy does not promise.
    private static readonly HashSet<string> HopByHop = new(StringComparer.OrdinalIgnoreCase)
        { "Connection", "Keep-Alive", "Transfer-Encoding", "Upgrade", "Proxy-Connection", "Content-Length" };

    // No overall timeout: a stream lasts as long as its generation; the client's leaving cancels it.
    private static readonly HttpClient Http = new(new SocketsHttpHandler { ConnectTimeout = TimeSpan.FromSeconds(5) })
    {
        Timeout = Timeout.InfiniteTimeSpan,
    };

    public async Task InvokeAsync(HttpContext context)
    {
        var request = context.Request;
        if (!HttpMethods.IsPost(request.Method) || !Paths.Contains(request.Path.Value ?? "") || request.Headers.ContainsKey(ForwardedHeader))
        {
            await next(context);
            return;
        }
        request.EnableBuffering();
        var model = await ModelOf(request.Body, context.RequestAborted);
        request.Body.Position = 0;
        if (model is null || model == servedModel || !cluster.Directory.Serves(model))
        {
            await next(context);
            return;
        }
        await Forward(context, model);
    }

    /// <summary>The body's "model"; null when it names none or is not JSON (the endpoint says so).</summary>
    private static async Task<string?> ModelOf(Stream body, CancellationToken ct)
    {
        try
        {
            using var doc = await JsonDocument.ParseAsync(body, cancellationToken: ct);
            return doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("model", out var m)
                && m.ValueKind == JsonValueKind.String ? m.GetString() : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private async Task Forward(HttpContext context, string model)
    {
        var tried = new HashSet<string>();
        while (cluster.Directory.Route(model, [], tried, http: true) is { } decision)
        {
            tried.Add(decision.Node);
            try
            {
                using var response = await Send(context, decision.Replica.HttpUrl!);
                if (response is null) continue;
                await Relay(context, response);
                return;
            }
            finally
            {
                cluster.Directory.Ended(decision);
            }
        }
        throw new EngineOverloadedException(tried.Count == 0
            ? $"no node serving {ApiException.Echo(model)} is reachable in the cluster"
            : $"no node serving {ApiException.Echo(model)} answered (tried {string.Join(", ", tried)})", TimeSpan.FromSeconds(1));
    }

    /// <summary>The request sent to <paramref name="baseUrl"/>; null when that node cannot be reached.</summary>
    private async Task<HttpResponseMessage?> Send(HttpContext context, string baseUrl)
    {
        var request = context.Request;
        request.Body.Position = 0;
        using var message = new HttpRequestMessage(HttpMethod.Post, baseUrl + request.Path + request.QueryString)
        {
            Content = new StreamContent(request.Body),
        };
        if (request.ContentType is { } type) message.Content.Headers.TryAddWithoutValidation("Content-Type", type);
        foreach (var name in new[] { "Authorization", "Accept", "X-Request-Id" })
            if (request.Headers.TryGetValue(name, out var value)) message.Headers.TryAddWithoutValidation(name, value.ToString());
        message.Headers.Add(ForwardedHeader, cluster.Self);
        try
        {
            return await Http.SendAsync(message, HttpCompletionOption.ResponseHeadersRead, context.RequestAborted);
        }
        catch (HttpRequestException) when (!context.RequestAborted.IsCancellationRequested)
        {
            return null;
        }
    }

    /// <summary>Copies the node's answer as it comes. A stream that breaks midway ends with an
    /// error event and [DONE] (the status is gone), as a stream cut on this node would.</summary>
    private static async Task Relay(HttpContext context, HttpResponseMessage response)
    {
        var to = context.Response;
        to.StatusCode = (int)response.StatusCode;
        foreach (var (name, values) in response.Headers.Concat(response.Content.Headers))
            if (!HopByHop.Contains(name)) to.Headers[name] = values.ToArray();
        bool events = response.Content.Headers.ContentType?.MediaType == "text/event-stream";
        if (events) context.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
        await to.StartAsync(context.RequestAborted);
        await using var from = await response.Content.ReadAsStreamAsync(context.RequestAborted);
        var buffer = new byte[16 * 1024];
        var tail = (Previous: (byte)0, Last: (byte)0);
        try
        {
            int n;
            while ((n = await from.ReadAsync(buffer, context.RequestAborted)) > 0)
            {
                await to.Body.WriteAsync(buffer.AsMemory(0, n), context.RequestAborted);
                await to.Body.FlushAsync(context.RequestAborted);
                tail = n >= 2 ? (buffer[n - 2], buffer[n - 1]) : (tail.Last, buffer[0]);
            }
        }
        catch (Exception e) when (e is IOException or HttpRequestException && !context.RequestAborted.IsCancellationRequested)
        {
            if (!events)
            {
                context.Abort();
                return;
            }
            var error = ApiException.From(new RequestFailedException(
                $"the node that served the request stopped answering midway ({e.Message}); its output is incomplete"));
            // Close an event cut in half before the error's own.
            if (tail != ((byte)'\n', (byte)'\n')) await to.Body.WriteAsync("\n\n"u8.ToArray(), context.RequestAborted);
            byte[] ending = [.. "data: "u8, .. ApiErrors.Body(error), .. "\n\ndata: [DONE]\n\n"u8];
            await to.Body.WriteAsync(ending, context.RequestAborted);
        }
    }
}
