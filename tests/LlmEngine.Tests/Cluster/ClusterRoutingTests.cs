using LlmEngine.Actors.Engine;
using LlmEngine.Kernels.Sampling;

namespace LlmEngine.Tests.Cluster;

/// <summary>Three engine replicas on one Akka.Cluster over loopback: whichever node a request
/// enters, it gives the lone engine's greedy tokens, and a request whose prompt shares a prefix
/// with an earlier one goes to the replica holding that prefix's blocks.</summary>
[Trait("Category", "Slow")]
public sealed class ClusterRoutingTests(ThreeNodes cluster) : IClassFixture<ThreeNodes>
{
    private const string SharedPrefix = "Once upon a time, there was a little girl named Lily. She loved to play outside in the park with her friends. "
        + "They liked to run, jump and swing on the big swings. Lily had a red ball that she took everywhere she went. "
        + "Her mom always told her to be careful and to share her toys with the other kids. One sunny day, ";

    [Fact]
    public async Task RequestsEnteringAnyNodeGiveTheGreedyTokensOfASingleEngine()
    {
        var tokenizer = cluster.Single.Tokenizer!;
        var prompts = new[] { "Once upon a time", "The cat sat", "Tom had a red ball", "One day, a bird", "The sun was hot", "Lily saw a dog" };
        var before = cluster.Nodes.Select(n => n.FrontDoor.Directory.Statistics.RequestsByTarget).ToArray();
        for (int i = 0; i < prompts.Length; i++)
        {
            var prompt = tokenizer.Encode(prompts[i]);
            var node = cluster.Nodes[i % cluster.Nodes.Length];
            // The premise below: the entry node sees every replica idle, not a load report from the last request.
            await ClusterNode.Eventually(() => node.FrontDoor.Directory.Replicas().All(r => r.Running + r.Waiting == 0 && r.InFlight == 0),
                "every replica reported idle");
            Assert.Equal(await cluster.Reference(prompt, 40), await node.Complete($"any-{i}", prompt, 40));
        }

        // Idle replicas with nothing cached tie, and ties take turns: each node sent requests to
        // more than itself, so the remote path (gateway, stream ref) carried some of them.
        for (int n = 0; n < cluster.Nodes.Length; n++)
        {
            var routed = cluster.Nodes[n].FrontDoor.Directory.Statistics.RequestsByTarget;
            Assert.Contains(routed, t => t.Key != cluster.Nodes[n].Address && t.Value > before[n].GetValueOrDefault(t.Key));
        }
        foreach (var node in cluster.Nodes) await ClusterNode.AllBlocksFree(node.Engine);
    }

    [Fact]
    public async Task LogprobsComeBackFromAnotherReplicaAsTheLoneEngineGivesThem()
    {
        var tokenizer = cluster.Single.Tokenizer!;
        var entry = cluster.Nodes[1];
        var sampling = new SamplingParameters { Temperature = 0, MaxTokens = 12, IgnoreEos = true, Logprobs = 3 };
        var before = entry.FrontDoor.Directory.Statistics.RequestsByTarget;
        foreach (var (text, i) in new[] { "A big dog", "The moon", "Sam ran" }.Select((t, i) => (t, i)))
        {
            var request = new GenerationRequest($"lp-{i}", tokenizer.Encode(text), sampling);
            var expected = await Last(cluster.Single, request);
            var actual = await Last(entry.FrontDoor, request);
            Assert.Equal(expected.TokenIds, actual.TokenIds);
            Assert.Equal(expected.CumulativeLogprob, actual.CumulativeLogprob, 4);
            Assert.Equal(expected.Logprobs.Select(t => (t.TokenId, t.Logprob, string.Join(',', t.Top))),
                actual.Logprobs.Select(t => (t.TokenId, t.Logprob, string.Join(',', t.Top))));
        }
        var after = entry.FrontDoor.Directory.Statistics.RequestsByTarget;
        Assert.Contains(after, t => t.Key != entry.Address && t.Value > before.GetValueOrDefault(t.Key));
    }

    private static async Task<CompletionOutput> Last(ILlmEngine engine, GenerationRequest request)
    {
        RequestOutput? last = null;
        await foreach (var output in engine.GenerateAsync(request)) last = output;
        return last!.Outputs![0];
    }

    [Fact]
    public async Task RequestsSharingAPrefixLandOnTheReplicaHoldingItWhicheverNodeTheyEnter()
    {
        var tokenizer = cluster.Single.Tokenizer!;
        var first = tokenizer.Encode(SharedPrefix + "she found a shell.");
        var entry = cluster.Nodes[0];
        var routedBefore = entry.FrontDoor.Directory.Statistics.RequestsByTarget;
        await entry.Complete("prefix-0", first, 8);
        var holder = entry.FrontDoor.Directory.Statistics.RequestsByTarget.Single(t => t.Value > routedBefore.GetValueOrDefault(t.Key)).Key;
        int prefixBlocks = Actors.Cluster.ReplicaDirectory.Chain(tokenizer.Encode(SharedPrefix), 16).Count - 1;
        Assert.True(prefixBlocks >= 3, $"the shared prefix spans {prefixBlocks} full blocks");

        // The other nodes never routed this prompt: they know where its blocks are only from the
        // holder's KV events.
        foreach (var node in cluster.Nodes.Skip(1))
            await ClusterNode.Eventually(() => node.FrontDoor.Directory.Replicas().Single(r => r.Node == holder).CachedBlocks >= prefixBlocks,
                "the holder's stored blocks reach every node");

        var questions = new[] { "he ran home.", "a dog barked.", "it rained.", "the sun came out.", "a frog jumped.", "Mom called." };
        for (int i = 0; i < questions.Length; i++)
        {
            var node = cluster.Nodes[i % cluster.Nodes.Length];
            var stats = node.FrontDoor.Directory.Statistics;
            var prompt = tokenizer.Encode(SharedPrefix + questions[i]);
            Assert.Equal(await cluster.Reference(prompt, 8), await node.Complete($"prefix-{i + 1}", prompt, 8));

            var after = node.FrontDoor.Directory.Statistics;
            Assert.Equal(stats.RequestsByTarget.GetValueOrDefault(holder) + 1, after.RequestsByTarget[holder]);
            Assert.True(after.PrefixHitBlocks - stats.PrefixHitBlocks >= prefixBlocks,
                $"routed with {after.PrefixHitBlocks - stats.PrefixHitBlocks} cached blocks, expected at least {prefixBlocks}");
        }
        var holderEngine = cluster.Nodes.Single(n => n.Address == holder).Engine;
        Assert.True((await holderEngine.RefreshStatisticsAsync()).PrefixCacheHits >= questions.Length * prefixBlocks * 16);
    }
}
