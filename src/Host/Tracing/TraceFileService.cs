using LlmEngine.Actors.Engine;
using LlmEngine.Actors.Observing;
using LlmEngine.Host.Api;
using Microsoft.Extensions.Hosting;

namespace LlmEngine.Host.Tracing;

/// <summary><c>serve --trace FILE</c>: records the step trace from start to shutdown. Registered
/// before the engine's own hosted service, so it stops after the engine has drained and the
/// trace ends with every request's end.</summary>
internal sealed class TraceFileService(ILlmEngine engine, ServerOptions options) : IHostedService
{
    private TraceRecording? _recording;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (options.TraceFile is { Length: > 0 } path)
        {
            if (engine is not IObservedEngine observed) throw new InvalidOperationException("--trace needs an engine that publishes its steps");
            _recording = TraceRecording.Start(observed.Observer, File.Create(path));
        }
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_recording is not null) await _recording.DisposeAsync();
        _recording = null;
    }
}
