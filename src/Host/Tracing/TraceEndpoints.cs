using LlmEngine.Actors.Observing;
using LlmEngine.Host.Api;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace LlmEngine.Host.Tracing;

/// <summary>
/// <c>POST /trace/start</c> begins recording a step trace (409 if one is recording);
/// <c>POST /trace/stop</c> ends it and answers the Chrome trace JSON. The recording goes to a
/// temporary file, deleted once sent (or when the server stops). Guarded by the API key when one is set.
/// </summary>
internal sealed class TraceEndpoints(EngineObserver observer) : IAsyncDisposable
{
    private readonly object _gate = new();
    private (TraceRecording Recording, string Path)? _current;

    public void Map(IEndpointRouteBuilder app)
    {
        app.MapPost("/trace/start", Start);
        app.MapPost("/trace/stop", Stop);
    }

    public async ValueTask DisposeAsync()
    {
        (TraceRecording Recording, string Path)? current;
        lock (_gate) (current, _current) = (_current, null);
        if (current is not { } c) return;
        await c.Recording.DisposeAsync();
        File.Delete(c.Path);
    }

    private IResult Start()
    {
        lock (_gate)
        {
            if (_current is not null) throw new ApiException(409, "a trace is already recording; POST /trace/stop first", ApiException.InvalidRequest);
            var path = Path.Combine(Path.GetTempPath(), $"llm-engine-trace-{Guid.NewGuid():N}.json");
            _current = (TraceRecording.Start(observer, File.Create(path)), path);
            return Results.Json(new { recording = true });
        }
    }

    private async Task Stop(HttpContext context)
    {
        (TraceRecording Recording, string Path) current;
        lock (_gate)
        {
            current = _current ?? throw new ApiException(409, "no trace is recording; POST /trace/start first", ApiException.InvalidRequest);
            _current = null;
        }
        await current.Recording.DisposeAsync();
        try
        {
            context.Response.ContentType = "application/json";
            await context.Response.SendFileAsync(current.Path, context.RequestAborted);
        }
        finally
        {
            File.Delete(current.Path);
        }
    }
}
