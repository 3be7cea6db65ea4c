using LlmEngine.Contracts;

namespace LlmEngine.Actors.Cluster;

/// <summary>
/// What a node knows of one engine replica: its last reported load and the prefix-cache blocks
/// it holds (from its KV events), plus the blocks this node just sent it (predicted: the prompt's
/// blocks are stored a step or a report later, and a burst of requests sharing a new prefix
/// must not scatter meanwhile; SGLang's router does the same with its approximate trees).
/// Mutated only under <see cref="ReplicaDirectory"/>'s lock.
/// </summary>
public sealed class Replica
{
    /// <summary>How long a predicted block counts without the replica confirming it: longer than a
    /// request waits in a busy queue, short enough that a prediction that never came true fades.</summary>
    public static readonly TimeSpan PredictionLifetime = TimeSpan.FromSeconds(30);

    private readonly HashSet<ulong> _cached = [];
    private readonly Dictionary<ulong, long> _predicted = [];
    private readonly CancellationTokenSource _lost = new();

    public Replica(string node) => Node = node;

    /// <summary>The node's address, e.g. akka.tcp://llm-engine@10.0.0.5:4053.</summary>
    public string Node { get; }
    public string Model { get; private set; } = "";
    public int MaxModelLength { get; private set; }
    public int BlockSize { get; private set; } = 1;
    public int MaxNumSeqs { get; private set; } = 1;
    public int Running { get; private set; }
    public int Waiting { get; private set; }
    public double KvUsage { get; private set; }
    public long Sequence { get; private set; }
    /// <summary>The node's OpenAI API, where requests for its model are forwarded; null until it listens.</summary>
    public string? HttpUrl { get; private set; }
    public int CachedBlocks => _cached.Count;

    /// <summary>Requests this node routed here that have not ended.</summary>
    public int InFlight { get; internal set; }

    /// <summary>Cancelled when the replica is lost (unreachable, removed): its streams end.</summary>
    public CancellationToken Lost => _lost.Token;

    public double Load => (double)Math.Max(Running + Waiting, InFlight) / Math.Max(MaxNumSeqs, 1);

    /// <summary>Applies a report; false when it does not follow the last one (a snapshot is needed).</summary>
    internal bool Apply(ReplicaReport report, long nowMs)
    {
        bool inOrder = report.Full || report.Sequence == Sequence + 1;
        (Model, MaxModelLength, BlockSize, MaxNumSeqs) = (report.Model, report.MaxModelLength, report.BlockSize, report.MaxNumSeqs);
        (Running, Waiting, KvUsage, Sequence, HttpUrl) = (report.Running, report.Waiting, report.KvUsage, report.Sequence, report.HttpUrl);
        if (report.Full) _cached.Clear();
        foreach (var h in report.Stored)
        {
            _cached.Add(h);
            _predicted.Remove(h);
        }
        foreach (var h in report.Evicted) _cached.Remove(h);
        foreach (var (h, until) in _predicted)
            if (until < nowMs) _predicted.Remove(h);
        return inOrder;
    }

    /// <summary>Leading blocks of the chain held here, cached or predicted (the engine reuses only a
    /// prefix, so the walk stops at the first miss).</summary>
    internal int Matched(IReadOnlyList<ulong> chain, long nowMs)
    {
        int n = 0;
        while (n < chain.Count && (_cached.Contains(chain[n]) || (_predicted.TryGetValue(chain[n], out long until) && until >= nowMs))) n++;
        return n;
    }

    internal void Predict(IReadOnlyList<ulong> chain, long nowMs)
    {
        long until = nowMs + (long)PredictionLifetime.TotalMilliseconds;
        foreach (var h in chain)
            if (!_cached.Contains(h)) _predicted[h] = until;
    }

    internal void MarkLost() => _lost.Cancel();
}
