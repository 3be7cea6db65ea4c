using LlmEngine.Actors.Cluster;
using LlmEngine.Contracts;
using LlmEngine.Scheduling.Blocks;

namespace LlmEngine.Tests.Cluster;

/// <summary>The routing decision and the block index it reads, without a cluster.</summary>
public sealed class RoutingPolicyTests
{
    private static readonly int[] Prompt = [.. Enumerable.Range(1, 65)];

    [Fact]
    public void KvAwarePrefersTheReplicaHoldingMorePromptBlocks()
    {
        var policy = new RoutingPolicy(RoutingMode.KvAware);
        Assert.Equal(1, policy.Pick([new("a", 0, 0), new("b", 3, 0), new("c", 1, 0)], promptBlocks: 4));
    }

    [Fact]
    public void KvAwareLeavesAHolderWhoseQueueOutweighsItsCachedShare()
    {
        var policy = new RoutingPolicy(RoutingMode.KvAware);
        // b holds 3 of 4 blocks (0.75) but has 1.5 requests per seat more than a: a wins.
        Assert.Equal(0, policy.Pick([new("a", 0, 0.5), new("b", 3, 2.0)], promptBlocks: 4));
        // With half a seat more, the cache wins.
        Assert.Equal(1, policy.Pick([new("a", 0, 0.5), new("b", 3, 1.0)], promptBlocks: 4));
    }

    [Fact]
    public void TiesGoToTheLeastLoadedThenTakeTurns()
    {
        var policy = new RoutingPolicy(RoutingMode.KvAware);
        Assert.Equal(2, policy.Pick([new("a", 0, 0.5), new("b", 0, 0.5), new("c", 0, 0.25)], 4));
        var picks = Enumerable.Range(0, 6).Select(_ => policy.Pick([new("a", 0, 0), new("b", 0, 0), new("c", 0, 0)], 4)).ToList();
        Assert.Equal([0, 1, 2], picks.Distinct().Order());
        Assert.All(new[] { 0, 1, 2 }, i => Assert.Equal(2, picks.Count(p => p == i)));
    }

    [Fact]
    public void LeastLoadedIgnoresTheCacheAndRoundRobinIgnoresBoth()
    {
        Assert.Equal(0, new RoutingPolicy(RoutingMode.LeastLoaded).Pick([new("a", 0, 0.1), new("b", 4, 0.2)], 4));
        var roundRobin = new RoutingPolicy(RoutingMode.RoundRobin);
        Assert.Equal([0, 1, 0, 1], Enumerable.Range(0, 4).Select(_ => roundRobin.Pick([new("a", 4, 0), new("b", 0, 9)], 4)));
        Assert.Equal(-1, roundRobin.Pick([], 4));
    }

    [Fact]
    public void TheRoutersChainIsTheHashesTheEngineStoresForTheSamePrompt()
    {
        var cache = new KvCacheManager(16, 16, prefixCaching: true);
        cache.KvEvents.Start();
        cache.AllocatePrefix(1, Prompt);
        Assert.True(cache.TryAllocateSlots(1, Prompt, 0, Prompt.Length, []));
        cache.PublishWritten();

        var (stored, evicted) = cache.KvEvents.Drain();
        Assert.Empty(evicted);
        // 65 tokens: 4 full blocks; the router counts only what a later request could reuse.
        Assert.Equal(ReplicaDirectory.Chain(Prompt, 16), stored.Take(4));
        Assert.Equal(ReplicaDirectory.Chain(Prompt, 16), ReplicaDirectory.Chain([.. Prompt], 16));
    }

    [Fact]
    public void EvictedBlocksLeaveTheIndexAndAMissedReportAsksForASnapshot()
    {
        var directory = new ReplicaDirectory(new RoutingPolicy(RoutingMode.KvAware));
        var chain = ReplicaDirectory.Chain(Prompt, 16).ToArray();
        Assert.False(directory.Apply(Report("a", 1, full: false, [])), "a replica first heard of mid-stream needs a snapshot");
        Assert.True(directory.Apply(Report("a", 2, full: true, chain)));
        Assert.True(directory.Apply(Report("b", 1, full: true, [])));

        var decision = directory.Route("m", Prompt, new HashSet<string>())!;
        Assert.Equal(("a", 4), (decision.Node, decision.MatchedBlocks));
        directory.Ended(decision);

        Assert.True(directory.Apply(Report("a", 3, full: false, [], evicted: chain[1..])));
        Assert.Equal(1, directory.Replicas().Single(r => r.Node == "a").CachedBlocks);
        Assert.False(directory.Apply(Report("a", 5, full: false, [])), "report 4 was missed");

        directory.Lost("a");
        Assert.Equal("b", directory.Route("m", Prompt, new HashSet<string>())!.Node);
        Assert.Null(directory.Route("m", Prompt, new HashSet<string> { "b" }));
        Assert.Null(directory.Route("other-model", Prompt, new HashSet<string>()));
    }

    private static ReplicaReport Report(string node, long sequence, bool full, ulong[] stored, ulong[]? evicted = null) =>
        new(node, "m", 512, 16, 4, 0, 0, 0, sequence, full, stored, evicted ?? []);
}
