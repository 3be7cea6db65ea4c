using LlmEngine.Host.Bench;
using LlmEngine.Tests.Loading;

namespace LlmEngine.Tests.Distributed;

/// <summary><c>bench batch --distributed-executor-backend cluster</c> with several batch sizes: the
/// worker nodes belong to one head (they leave the cluster when it stops), so every row runs on it.</summary>
[Trait("Category", "Slow")]
public class ClusterBenchTests
{
    [Fact]
    public async Task EveryBatchSizeRunsOverTheSameWorkerNode()
    {
        var options = WorkerNodes.Head(SharedModels.Stories260K, 2) with { NumBlocks = 0, WorkerTimeoutSeconds = 20 };
        var rows = new List<BatchRow>();
        var bench = Task.Run(async () =>
        {
            await foreach (var (row, _) in BatchBench.RunAsync(options, [1, 3, 2], 8, 4, 0, () => { })) rows.Add(row);
        });
        var worker = WorkerNodes.InProcess(options.ClusterPort);
        try
        {
            await bench;
        }
        finally
        {
            await worker.Terminate();
        }
        Assert.Equal([1, 3, 2], rows.Select(r => r.BatchSize));
        Assert.All(rows, r => Assert.True(r.Boundaries is { Boundaries: > 0 } && r.Preemptions == 0, $"batch {r.BatchSize}: {r.Boundaries}, {r.Preemptions} preemptions"));
    }
}
