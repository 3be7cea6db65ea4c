using System.Diagnostics;
using LlmEngine.Contracts;
using LlmEngine.Scheduling.Blocks;

namespace LlmEngine.Actors.Cluster;

/// <summary>
/// A node's view of the cluster's engine replicas, for routing: fed by
/// <see cref="ClusterDirectoryActor"/> (reports, membership), read by <see cref="ClusterEngine"/>
/// on each request under one lock (a decision is microseconds; an actor round trip would
/// cost more than the decision). The decision itself is <see cref="RoutingPolicy"/>'s.
/// </summary>
public sealed class ReplicaDirectory(RoutingPolicy policy)
{
    private readonly Lock _lock = new();
    private readonly SortedDictionary<string, Replica> _replicas = new(StringComparer.Ordinal);
    private readonly HashSet<string> _barred = [];
    private readonly Dictionary<string, long> _routed = [];
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private long _prefixHitBlocks;
    private long _decisions;
    private double _decisionSeconds;

    public RoutingPolicy Policy { get; } = policy;

    private long Now => _clock.ElapsedMilliseconds;

    /// <summary>Takes a replica's report; false when the sender should be asked for a snapshot
    /// (a replica first heard of, or a report missed). Reports of a barred node are ignored.</summary>
    public bool Apply(ReplicaReport report)
    {
        lock (_lock)
        {
            if (_barred.Contains(report.Node)) return true;
            bool known = _replicas.TryGetValue(report.Node, out var replica);
            if (!known) _replicas[report.Node] = replica = new Replica(report.Node);
            return replica!.Apply(report, Now) && (known || report.Full);
        }
    }

    /// <summary>No new requests go to the node (it is leaving); those it runs go on.</summary>
    public void Leaving(string node)
    {
        lock (_lock)
        {
            _barred.Add(node);
            _replicas.Remove(node);
        }
    }

    /// <summary>The node is gone or cannot be heard: no new requests, and its streams end
    /// (<see cref="Replica.Lost"/>): those with no token yet are routed again by their caller.</summary>
    public void Lost(string node)
    {
        Replica? replica;
        lock (_lock)
        {
            _barred.Add(node);
            _replicas.Remove(node, out replica);
        }
        replica?.MarkLost();
    }

    /// <summary>The node (back, or a new one at an old address) may be routed to once it reports.</summary>
    public void Allow(string node)
    {
        lock (_lock) _barred.Remove(node);
    }

    /// <summary>Picks a replica of <paramref name="model"/> for a prompt, never one in
    /// <paramref name="excluded"/>, and only <paramref name="only"/> when given; null when none
    /// can take it.</summary>
    public RouteDecision? Route(string model, IReadOnlyList<int> prompt, IReadOnlySet<string> excluded, string? only = null)
    {
        long start = Stopwatch.GetTimestamp();
        lock (_lock)
        {
            var replicas = _replicas.Values
                .Where(r => r.Model == model && !excluded.Contains(r.Node) && (only is null || r.Node == only))
                .ToList();
            if (replicas.Count == 0) return null;
            var chains = new Dictionary<int, IReadOnlyList<ulong>>();
            var chainOf = (Replica r) => chains.TryGetValue(r.BlockSize, out var c) ? c : chains[r.BlockSize] = Chain(prompt, r.BlockSize);
            long now = Now;
            var candidates = replicas.Select(r => new Candidate(r.Node, r.Matched(chainOf(r), now), r.Load)).ToList();
            int pick = Policy.Pick(candidates, chainOf(replicas[0]).Count);
            var chosen = replicas[pick];
            var chain = chainOf(chosen);
            chosen.Predict(chain, now);
            chosen.InFlight++;
            var took = Stopwatch.GetElapsedTime(start);
            _routed[chosen.Node] = _routed.GetValueOrDefault(chosen.Node) + 1;
            _prefixHitBlocks += candidates[pick].MatchedBlocks;
            _decisions++;
            _decisionSeconds += took.TotalSeconds;
            return new RouteDecision(chosen, candidates[pick].MatchedBlocks, chain.Count, took);
        }
    }

    /// <summary>The request routed by <paramref name="decision"/> ended (however it ended).</summary>
    public void Ended(RouteDecision decision)
    {
        lock (_lock) decision.Replica.InFlight--;
    }

    /// <summary>Whether some reachable replica serves <paramref name="model"/>.</summary>
    public bool Serves(string model)
    {
        lock (_lock) return _replicas.Values.Any(r => r.Model == model);
    }

    /// <summary>The replicas routed to now, for /cluster and /v1/models.</summary>
    public IReadOnlyList<ReplicaSummary> Replicas()
    {
        lock (_lock)
            return [.. _replicas.Values.Select(r => new ReplicaSummary(r.Node, r.Model, r.MaxModelLength, r.Running, r.Waiting, r.KvUsage, r.InFlight, r.CachedBlocks))];
    }

    public RouterStatistics Statistics
    {
        get
        {
            lock (_lock) return new RouterStatistics(new Dictionary<string, long>(_routed), _prefixHitBlocks, _decisions, _decisionSeconds);
        }
    }

    /// <summary>The engine's prefix-cache hashes of the prompt's blocks that a replica could reuse:
    /// full blocks, leaving the last token to compute (as <see cref="KvCacheManager"/> matches).</summary>
    public static IReadOnlyList<ulong> Chain(IReadOnlyList<int> prompt, int blockSize)
    {
        int blocks = Math.Max(prompt.Count - 1, 0) / blockSize;
        var chain = new ulong[blocks];
        var parent = BlockHash.Root;
        var chunk = new int[blockSize];
        for (int b = 0; b < blocks; b++)
        {
            for (int i = 0; i < blockSize; i++) chunk[i] = prompt[b * blockSize + i];
            parent = BlockHash.Of(parent, chunk);
            chain[b] = parent.Value;
        }
        return chain;
    }
}

/// <summary>One replica as /cluster shows it.</summary>
public sealed record ReplicaSummary(string Node, string Model, int MaxModelLength, int Running, int Waiting, double KvUsage, int InFlight, int CachedBlocks);

/// <summary>A node's routing counters since start: requests per target node, prompt blocks the
/// chosen replica already held, and the decisions' count and total time.</summary>
public sealed record RouterStatistics(IReadOnlyDictionary<string, long> RequestsByTarget, long PrefixHitBlocks, long Decisions, double DecisionSeconds);
