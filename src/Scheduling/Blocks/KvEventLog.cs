namespace LlmEngine.Scheduling.Blocks;

/// <summary>
/// The KV events of one device <see cref="BlockPool"/>: the hashes of full blocks that became
/// findable by prefix matching (stored) and that were forgotten (evicted), kept until a reader
/// drains them, plus the set cached now (for a full snapshot). The pool writes on the
/// scheduler's thread; a cluster publisher reads on another, hence the lock (a handful of hashes
/// per step). Until <see cref="Start"/> it records nothing, so a lone engine pays nothing.
/// </summary>
public sealed class KvEventLog
{
    private readonly Lock _lock = new();
    private readonly HashSet<ulong> _cached = [];
    private readonly List<ulong> _stored = [];
    private readonly List<ulong> _evicted = [];
    private bool _recording;

    /// <summary>Starts recording (blocks cached earlier are not seen: start before serving).</summary>
    public void Start()
    {
        lock (_lock) _recording = true;
    }

    internal void Stored(BlockHash hash)
    {
        lock (_lock)
        {
            if (!_recording || !_cached.Add(hash.Value)) return;
            _stored.Add(hash.Value);
        }
    }

    internal void Evicted(BlockHash hash)
    {
        lock (_lock)
        {
            if (!_recording || !_cached.Remove(hash.Value)) return;
            // Stored and evicted between two reads: neither needs telling.
            if (!_stored.Remove(hash.Value)) _evicted.Add(hash.Value);
        }
    }

    /// <summary>The events since the last drain (none lost, none twice).</summary>
    public (ulong[] Stored, ulong[] Evicted) Drain()
    {
        lock (_lock)
        {
            var result = (_stored.ToArray(), _evicted.ToArray());
            _stored.Clear();
            _evicted.Clear();
            return result;
        }
    }

    /// <summary>Every hash cached now, and the events are drained (they are in it).</summary>
    public ulong[] Snapshot()
    {
        lock (_lock)
        {
            _stored.Clear();
            _evicted.Clear();
            return [.. _cached];
        }
    }
}
