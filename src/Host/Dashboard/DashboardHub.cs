using System.Diagnostics;
using System.Text.Json;
using LlmEngine.Actors.Observing;

namespace LlmEngine.Host.Dashboard;

/// <summary>
/// Follows the engine for the dashboard. It always reads the engine's events (cheap records, one
/// per step) to keep request histories and charts, and asks for a block-map snapshot every
/// <see cref="Interval"/> only while a page is connected; each snapshot becomes one JSON frame
/// that every connected page receives. The engine never waits for it. On huge caches frames come
/// less often: at most one per <see cref="CostFactor"/> times the least of the last frames' costs, so the
/// dashboard's own work stays near 1% of a core whatever the cache size.
/// </summary>
internal sealed class DashboardHub : IAsyncDisposable
{
    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);
    public const int CostFactor = 100;

    private readonly EngineObserver _observer;
    private readonly EngineSubscription _subscription;
    private readonly CancellationTokenSource _stop = new();
    private readonly RequestLog _requests = new();
    private readonly StepCharts _charts = new();
    private readonly Task _reader, _pacer;
    private volatile EngineSnapshot? _latest;
    private volatile byte[]? _frame;
    private TaskCompletionSource _next = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _pages, _pending;
    // The last frames' costs; the pace follows the least of them, so one frame stretched by a
    // garbage collection, a compilation or the OS taking the core does not stall the page.
    private readonly long[] _frameCostTicks = new long[5];
    private int _frames;

    public DashboardHub(EngineObserver observer, TimeSpan interval)
    {
        _observer = observer;
        Interval = interval;
        _subscription = observer.Subscribe();
        _reader = Task.Run(ReadAsync);
        _pacer = Task.Run(PaceAsync);
    }

    public TimeSpan Interval { get; }

    /// <summary>Counts a connected page until disposed; snapshots are taken only while one is.</summary>
    public IDisposable Connect()
    {
        Interlocked.Increment(ref _pages);
        return new Disconnect(this);
    }

    /// <summary>The next frame after <paramref name="previous"/> (the current one if it differs).</summary>
    public async Task<byte[]> NextFrameAsync(byte[]? previous, CancellationToken ct)
    {
        while (true)
        {
            var next = Volatile.Read(ref _next).Task;
            var frame = _frame;
            if (frame is not null && !ReferenceEquals(frame, previous)) return frame;
            await next.WaitAsync(ct);
        }
    }

    /// <summary>States and owners of blocks [from, to) of a pool in the latest snapshot; null before the first.</summary>
    public BlockDetail? Detail(bool host, int from, int to) => _latest is { } s ? BlockDetail.Of(s, host, from, to) : null;

    private async Task ReadAsync()
    {
        try
        {
            await foreach (var e in _subscription.Events.ReadAllAsync(_stop.Token))
            {
                if (e is StepRecord step) _charts.Add(step);
                _requests.Add(e);
                if (e is EngineSnapshot snapshot) Publish(snapshot);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private void Publish(EngineSnapshot snapshot)
    {
        long start = Stopwatch.GetTimestamp();
        _latest = snapshot;
        _frame = JsonSerializer.SerializeToUtf8Bytes(DashboardFrame.Of(snapshot, _requests, _charts.Series(Stopwatch.GetTimestamp())), Json);
        Volatile.Write(ref _frameCostTicks[_frames++ % _frameCostTicks.Length], Stopwatch.GetElapsedTime(start).Ticks);
        Interlocked.Exchange(ref _pending, 0);
        Interlocked.Exchange(ref _next, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
    }

    private async Task PaceAsync()
    {
        try
        {
            while (true)
            {
                var cost = TimeSpan.FromTicks(LeastRecentFrameCost() * CostFactor);
                await Task.Delay(cost > Interval ? cost : Interval, _stop.Token);
                if (Volatile.Read(ref _pages) == 0) continue;
                // One snapshot in flight at a time; one not answered within a second (the engine
                // was stopping, say) is asked for again.
                int ticks = Interlocked.Increment(ref _pending);
                if (ticks != 1 && ticks * Interval < TimeSpan.FromSeconds(1)) continue;
                Interlocked.Exchange(ref _pending, 1);
                _observer.RequestSnapshot();
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private long LeastRecentFrameCost()
    {
        int count = Math.Min(Volatile.Read(ref _frames), _frameCostTicks.Length);
        long least = long.MaxValue;
        for (int i = 0; i < count; i++) least = Math.Min(least, Volatile.Read(ref _frameCostTicks[i]));
        return count == 0 ? 0 : least;
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _subscription.Dispose();
        await Task.WhenAll(_reader, _pacer);
        _stop.Dispose();
    }

    private sealed class Disconnect(DashboardHub hub) : IDisposable
    {
        private int _done;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _done, 1) == 0) Interlocked.Decrement(ref hub._pages);
        }
    }
}
