using System.Text.Json;
using static LlmEngine.Tests.Cluster.ServeHttp;

namespace LlmEngine.Tests.Cluster;

/// <summary>
/// A network partition, both sides still running: two engine <c>serve</c> processes on loopback,
/// each reached by the other only through a <see cref="LoopbackLink"/> (its advertised cluster
/// address). Eight streams go to the oldest node (round-robin over both engines, two seats each);
/// while the younger one runs two and queues more, both links are cut. Each side sees the other
/// unreachable and routes only to itself. The split-brain resolver (keep-oldest) keeps the oldest;
/// the younger downs itself and its process exits non-zero, so that a supervisor restarts it into
/// the cluster. On the oldest's side no request is lost: streams end with the lone engine's tokens
/// or, where the younger had streamed tokens, a clear error event; what it had queued runs on the
/// oldest, which ends idle with every block free and alone in the cluster.
/// </summary>
[Trait("Category", "Slow")]
public sealed class ServeClusterPartitionTests
{
    // Enough that the younger replica is still busy when first seen so: with 8, on an idle machine, every
    // stream had ended (400 tokens each of a 260K-parameter model) before the test saw it busy.
    private const int Streams = 32;

    [Fact]
    public async Task ThePartitionedYoungerEngineDownsItselfAndExitsWhileTheOldestLosesNoRequest()
    {
        int oldestPort = LoopbackPort.Free(), youngerPort = LoopbackPort.Free();
        using var toOldest = new LoopbackLink(oldestPort);
        using var toYounger = new LoopbackLink(youngerPort);
        static string[] Engine(int port, LoopbackLink link) => ["--cluster-port", port.ToString(), "--cluster-public-address", $"127.0.0.1:{link.Port}",
            "--routing", "round-robin", "--max-num-seqs", "2", "--max-waiting-requests", "-1"];
        using var oldest = await ServeProcess.Start(Engine(oldestPort, toOldest));
        using var younger = await ServeProcess.Start([.. Engine(youngerPort, toYounger), "--join", $"127.0.0.1:{toOldest.Port}"]);

        using var http = Client(oldest);
        using var apart = Client(younger);
        await ClusterNode.Eventually(() => Replicas(http).Result.Count == 2 && Replicas(apart).Result.Count == 2, "both engines route to both");
        string oldestNode = await NodeOf(http, oldest), youngerNode = await NodeOf(http, younger);
        Assert.Equal($"akka.tcp://llm-engine@127.0.0.1:{toYounger.Port}", youngerNode);

        var prompts = Enumerable.Range(0, Streams).Select(i => $"Story {i}: once upon a time").ToArray();
        var references = await Task.WhenAll(prompts.Select(p => Text(http, p)));
        var streams = prompts.Select(p => new CompletionStream(http, Body(p, stream: true))).ToArray();
        await Busy(http, youngerNode, streams);
        toOldest.Cut();
        toYounger.Cut();

        // Until the resolver decides, the younger side runs on its own: it sees the oldest
        // unreachable and routes only to itself.
        await ClusterNode.Eventually(() =>
        {
            var view = ClusterOf(apart).Result;
            return view.GetProperty("replicas").EnumerateArray().Select(r => r.GetProperty("node").GetString()).SequenceEqual([youngerNode])
                && view.GetProperty("members").EnumerateArray().Any(m => m.GetProperty("address").GetString() == oldestNode && !m.GetProperty("reachable").GetBoolean());
        }, "the younger engine sees the oldest unreachable and routes only to itself", 30);

        await AssertNoneLost(http, streams, references);

        // The younger side downs itself and exits with an error that says so.
        var (code, log) = await younger.Exit(TimeSpan.FromSeconds(90));
        Assert.Equal(1, code);
        Assert.Contains("error: this node was downed by the cluster", log);

        // The oldest carries on alone: idle, every block free, the younger removed.
        await ClusterNode.Eventually(() => Gauges(http).Result is (0, 0, 0), "the oldest is idle with every block free", 30);
        await ClusterNode.Eventually(() => ClusterOf(http).Result.GetProperty("members").EnumerateArray()
            .Select(m => m.GetProperty("address").GetString()).SequenceEqual([oldestNode]), "the younger node is downed and removed", 60);
        Assert.Equal(references[0], await Text(http, prompts[0]));
        Assert.Equal(0, await oldest.Stop());
    }
}
