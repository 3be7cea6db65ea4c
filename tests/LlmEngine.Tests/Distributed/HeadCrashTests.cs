using LlmEngine.Actors.Distributed;
using LlmEngine.Actors.Engine;
using LlmEngine.Kernels.Sampling;
using LlmEngine.Tests.Cluster;
using LlmEngine.Tests.Loading;
using LlmEngine.Tests.Models;
using static LlmEngine.Tests.Sharding.TensorParallelEngineTests;

namespace LlmEngine.Tests.Distributed;

/// <summary>
/// A head that crashes (its process SIGKILLed: it never leaves the cluster) with two worker nodes:
/// the workers keep a cluster of two between them, so the split-brain resolver does not down them
/// (keep-oldest with down-if-alone downs the head, the oldest, cut off alone); the head's removal
/// makes each worker start a fresh node and wait for the next head, which both then serve.
/// </summary>
[Trait("Category", "Slow")]
public class HeadCrashTests
{
    [Fact]
    public async Task TwoWorkersOfACrashedHeadJoinTheNextHeadAndServeIt()
    {
        var options = WorkerNodes.Head(SharedModels.Stories260K, 3) with { WorkerTimeoutSeconds = 120 };
        string seed = $"127.0.0.1:{options.ClusterPort}";
        var logs = new[] { new List<string>(), new List<string>() };
        using var stop = new CancellationTokenSource();
        var workers = logs.Select(log => Task.Run(() => WorkerNode.RunAsync("127.0.0.1", 0, seed, null, "cpu", line => { lock (log) log.Add(line); }, stop.Token))).ToArray();
        try
        {
            using (var crashed = await ServeProcess.Start("--pipeline-parallel-size", "3", "--distributed-executor-backend", "cluster",
                       "--cluster-port", options.ClusterPort.ToString(), "--worker-timeout", "120"))
            {
                Assert.All(logs, log => Assert.Contains(Lines(log), line => line.StartsWith("loaded stage")));
                await crashed.Kill();
            }
            // Failure detector (about 4 s), the resolver's stable-after (5 s), removal: a loaded machine's margin on top.
            foreach (var log in logs)
                await ClusterNode.Eventually(() => Lines(log).Any(line => line.Contains("joining again")), "each worker node leaves the dead head's cluster", seconds: 90);

            await using var next = await Task.Run(() => InferenceEngine.Start(options));
            var row = Stories260KReferenceTests.Rows[0];
            Assert.Equal(row.Generated, await Tokens(next, "after", row.PromptIds, new SamplingParameters { Temperature = 0, MaxTokens = row.Generated.Length }));
        }
        finally
        {
            stop.Cancel();
        }
        foreach (var worker in workers) Assert.Null(await worker.WaitAsync(TimeSpan.FromSeconds(30)));
    }

    private static string[] Lines(List<string> log)
    {
        lock (log) return [.. log];
    }
}
