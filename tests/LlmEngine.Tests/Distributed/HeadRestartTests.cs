using LlmEngine.Actors.Distributed;
using LlmEngine.Actors.Engine;
using LlmEngine.Kernels.Sampling;
using LlmEngine.Tests.Cluster;
using LlmEngine.Tests.Loading;
using LlmEngine.Tests.Models;
using static LlmEngine.Tests.Sharding.TensorParallelEngineTests;

namespace LlmEngine.Tests.Distributed;

/// <summary>A worker node outlives its head: removed from the cluster when the head stops, it joins
/// again and serves the next head started at the same address (a restarted head, or the next engine
/// of a benchmark sweep), until it is stopped.</summary>
[Trait("Category", "Slow")]
public class HeadRestartTests
{
    [Fact]
    public async Task AWorkerNodeServesTheNextHeadAtTheSameAddress()
    {
        var options = WorkerNodes.Head(SharedModels.Stories260K, 2) with { WorkerTimeoutSeconds = 60 };
        var row = Stories260KReferenceTests.Rows[0];
        var sampling = new SamplingParameters { Temperature = 0, MaxTokens = row.Generated.Length };
        var log = new List<string>();
        using var stop = new CancellationTokenSource();
        var worker = Task.Run(() => WorkerNode.RunAsync("127.0.0.1", 0, $"127.0.0.1:{options.ClusterPort}", null, "cpu", line => { lock (log) log.Add(line); }, stop.Token));
        try
        {
            for (int head = 0; head < 2; head++)
            {
                await using var engine = await Task.Run(() => InferenceEngine.Start(options));
                Assert.Equal(row.Generated, await Tokens(engine, $"head{head}", row.PromptIds, sampling));
            }
        }
        finally
        {
            stop.Cancel();
        }
        Assert.Null(await worker.WaitAsync(TimeSpan.FromSeconds(30)));
        lock (log) Assert.Contains(log, line => line.Contains("joining again"));
    }

    /// <summary>SIGTERM stops an <c>llm-engine worker</c> process (exit 0) whether it comes just as its head
    /// leaves or while it waits for the next head.</summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task AWorkerProcessStopsOnSigtermAsItsHeadLeavesAndBetweenHeads(bool betweenHeads)
    {
        var (head, workers) = await WorkerNodes.Start(WorkerNodes.Head(SharedModels.Stories260K, 2), WorkerProcess.Start);
        using var worker = workers[0];
        await head.DisposeAsync();
        if (betweenHeads) await ClusterNode.Eventually(() => worker.Output.Contains("joining again"), "the worker waits for the next head", seconds: 90);
        worker.Signal("TERM");
        Assert.True(worker.WaitForExit(TimeSpan.FromSeconds(60)), $"the worker ran on after SIGTERM:\n{worker.Output}");
        Assert.Equal(0, worker.ExitCode);
    }
}
