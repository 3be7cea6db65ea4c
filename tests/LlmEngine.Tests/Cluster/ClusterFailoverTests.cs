using LlmEngine.Actors.Engine;
using LlmEngine.Tests.Remote;

namespace LlmEngine.Tests.Cluster;

/// <summary>A replica dies mid-run: its queued requests complete on the others, its streaming
/// ones end with a clear error, no request is lost or left hanging, the survivors free every
/// block; then a node that joins starts getting traffic.</summary>
[Trait("Category", "Slow")]
public sealed class ClusterFailoverTests
{
    private const int MaxTokens = 400;

    [Fact]
    public async Task ANodeStoppedMidRunLosesNoRequestAndANodeThatJoinsGetsTraffic()
    {
        await using var single = InferenceEngine.Start(RemoteSystems.Stories260K());
        // Two seats per replica, so that each has requests running and requests queued.
        var nodes = await ClusterNode.StartCluster(3, maxNumSeqs: 2);
        var (entry, survivor, victim) = (nodes[0], nodes[1], nodes[2]);
        ClusterNode? joiner = null;
        try
        {
            var tokenizer = single.Tokenizer!;
            var prompts = Enumerable.Range(0, 12).Select(i => tokenizer.Encode($"Story {i}: once upon a time")).ToArray();
            var runs = prompts.Select((p, i) => entry.Complete($"r{i}", p, MaxTokens)).ToArray();

            await ClusterNode.Eventually(() => victim.Engine.InFlight >= 3 && victim.Engine.Statistics.GenerationTokens > 0,
                "the victim runs some requests and queues others", 120);
            await victim.Crash();

            int failed = 0;
            for (int i = 0; i < runs.Length; i++)
            {
                try
                {
                    var tokens = await runs[i].WaitAsync(TimeSpan.FromSeconds(120));
                    Assert.Equal(await Reference(single, prompts[i]), tokens);
                }
                catch (RequestFailedException e)
                {
                    Assert.Contains("left the cluster after it had streamed tokens", e.Message);
                    failed++;
                }
            }
            // The victim had two seats: at most the two requests streaming there fail; the ones it
            // had queued were routed again (more decisions than requests) and completed.
            Assert.InRange(failed, 1, 2);
            var routed = entry.FrontDoor.Directory.Statistics.RequestsByTarget;
            Assert.True(routed.Values.Sum() > prompts.Length, $"{routed.Values.Sum()} decisions for {prompts.Length} requests: none re-routed");
            await ClusterNode.Eventually(() => entry.FrontDoor.Directory.Replicas().All(r => r.Node != victim.Address), "the victim is dropped");
            await ClusterNode.AllBlocksFree(entry.Engine);
            await ClusterNode.AllBlocksFree(survivor.Engine);

            joiner = await ClusterNode.Start(entry.Port, maxNumSeqs: 2);
            await ClusterNode.Converged([entry, survivor, joiner]);
            var before = entry.FrontDoor.Directory.Statistics.RequestsByTarget.GetValueOrDefault(joiner.Address);
            for (int i = 0; i < 6; i++)
                Assert.Equal(await Reference(single, prompts[i]), await entry.Complete($"j{i}", prompts[i], MaxTokens));
            Assert.True(entry.FrontDoor.Directory.Statistics.RequestsByTarget.GetValueOrDefault(joiner.Address) > before, "the new node got no request");
        }
        finally
        {
            if (joiner is not null) await joiner.DisposeAsync();
            foreach (var node in nodes.Reverse()) await node.DisposeAsync();
        }
    }

    private static Task<int[]> Reference(InferenceEngine engine, IReadOnlyList<int> prompt) => ClusterNode.Greedy(engine, "reference", prompt, MaxTokens);
}
