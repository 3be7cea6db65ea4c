using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace LlmEngine.Host.Api;

/// <summary>
/// Runs the body of a stream whose headers are sent. It ends with <c>data: [DONE]</c>; a failure
/// midway is sent as an error object event before it (as vLLM does), since the status is gone;
/// a client that went away ends it quietly (its requests are cancelled by the caller's dispose).
/// A stream of typed events (the Responses API) sends its failure as its own error event
/// (<paramref name="sendError"/>) and ends without <c>[DONE]</c>.
/// </summary>
internal static class StreamGuard
{
    public static async Task Run(HttpContext context, ServerSentEvents sse, Func<Task> body, Func<ApiException, Task>? sendError = null)
    {
        try
        {
            await body();
        }
        catch (Exception) when (context.RequestAborted.IsCancellationRequested)
        {
            return;
        }
        catch (Exception e)
        {
            var error = ApiException.From(e);
            if (error.Status >= 500)
                context.RequestServices.GetService<ILoggerFactory>()?.CreateLogger(typeof(StreamGuard))
                    .LogError(e, "Stream of {Path} failed", context.Request.Path);
            try
            {
                await (sendError?.Invoke(error) ?? sse.SendJson(ApiErrors.Body(error)));
            }
            catch (Exception) when (context.RequestAborted.IsCancellationRequested)
            {
                return;
            }
        }
        if (sendError is not null) return;
        try
        {
            await sse.Done();
        }
        catch (Exception) when (context.RequestAborted.IsCancellationRequested)
        {
            // The client left just as the stream ended.
        }
    }
}
