using System.Diagnostics;
using LlmEngine.Actors.Observing;

namespace LlmEngine.Host.Tracing;

/// <summary>
/// Records the engine's events into a Chrome trace from <see cref="Start"/> until
/// <see cref="StopAsync"/>, on its own task: the engine only drops events into the subscription's
/// queue. Stopping drains what was published before it, then completes the JSON.
/// </summary>
internal sealed class TraceRecording : IAsyncDisposable
{
    private readonly EngineSubscription _subscription;
    private readonly Stream _output;
    private readonly Task _pump;

    private TraceRecording(EngineObserver observer, Stream output)
    {
        _output = output;
        _subscription = observer.Subscribe();
        var writer = new ChromeTraceWriter(output, Stopwatch.GetTimestamp());
        _pump = Task.Run(async () =>
        {
            using (writer)
                await foreach (var e in _subscription.Events.ReadAllAsync())
                    if (e is not EngineSnapshot) writer.Add(e);
        });
    }

    public static TraceRecording Start(EngineObserver observer, Stream output) => new(observer, output);

    public async Task StopAsync()
    {
        _subscription.Dispose();
        await _pump;
        await _output.FlushAsync();
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        await _output.DisposeAsync();
    }
}
