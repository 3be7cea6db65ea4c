using System.Threading.Channels;

namespace LlmEngine.Actors.Observing;

/// <summary>
/// Where the engine publishes what it does (<see cref="EngineEvent"/>s) for the dashboard, the
/// step trace and anyone else. The scheduler actor builds events only while someone subscribes,
/// and a subscriber never slows it: each has its own bounded queue that drops its oldest events
/// when the subscriber falls that far behind. Block-map snapshots cost O(blocks), so they are
/// taken only when asked for, at the next step boundary.
/// </summary>
public sealed class EngineObserver(Action requestSnapshot)
{
    private readonly object _gate = new();
    private volatile Channel<EngineEvent>[] _subscribers = [];

    public bool IsObserved => _subscribers.Length > 0;

    /// <summary>Events from now on, until the subscription is disposed.</summary>
    public EngineSubscription Subscribe(int capacity = 65536)
    {
        var channel = Channel.CreateBounded<EngineEvent>(new BoundedChannelOptions(capacity)
        {
            FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true, SingleWriter = true,
        });
        lock (_gate) _subscribers = [.. _subscribers, channel];
        return new EngineSubscription(channel.Reader, () =>
        {
            lock (_gate) _subscribers = _subscribers.Where(c => c != channel).ToArray();
            channel.Writer.TryComplete();
        });
    }

    /// <summary>Asks for one <see cref="EngineSnapshot"/>; it reaches every subscriber.</summary>
    public void RequestSnapshot() => requestSnapshot();

    internal void Publish(EngineEvent e)
    {
        foreach (var channel in _subscribers) channel.Writer.TryWrite(e);
    }
}

/// <summary>A subscriber's events; disposing it unsubscribes and ends <see cref="Events"/>.</summary>
public sealed class EngineSubscription(ChannelReader<EngineEvent> events, Action unsubscribe) : IDisposable
{
    private int _disposed;

    public ChannelReader<EngineEvent> Events => events;

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0) unsubscribe();
    }
}
