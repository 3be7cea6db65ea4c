using LlmEngine.Actors.Engine;
using LlmEngine.Kernels.Sampling;
using LlmEngine.Scheduling;
using LlmEngine.Tests.Engine;
using LlmEngine.Tests.Families;
using LlmEngine.Tests.Loading;
using LlmEngine.Tests.Models;
using static LlmEngine.Tests.Sharding.TensorParallelEngineTests;

namespace LlmEngine.Tests.Distributed;

/// <summary>A head and worker nodes as separate ActorSystems joined by Akka.Cluster over loopback
/// (--distributed-executor-backend cluster): the head runs the scheduler and stage 0, each worker a
/// later stage (alone or as two tensor-parallel ranks), and the greedy tokens are the whole model's,
/// also under forced preemption.</summary>
[Trait("Category", "Slow")]
public class PipelineClusterTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public Task Stories260KOverAWorkerNodeGeneratesRunCTokensOnEveryReferencePrompt(int ranks) =>
        WorkerNodes.WithInProcessWorkers(WorkerNodes.Head(SharedModels.Stories260K, 2, ranks), async head =>
        {
            await AssertRunCTokensOnEveryReferencePrompt(head);
            Assert.True(head.PipelineBoundaries.Bytes > 0);
        });

    [Theory]
    [InlineData("gpt2", 1)]
    [InlineData("opt", 1)]
    [InlineData("llama", 1)]
    [InlineData("gpt2", 2)]
    [InlineData("opt", 2)]
    [InlineData("llama", 2)]
    public Task TinyModelsOverAWorkerNodeGenerateTransformersGreedyTokens(string family, int ranks)
    {
        var reference = TinyHfReference.Of(family);
        return WorkerNodes.WithInProcessWorkers(WorkerNodes.Head(SharedModels.TinyHf(family), 2, ranks), async head =>
        {
            await AssertTransformersGreedyTokens(head, reference);
            await EngineRuns.AssertAllBlocksFree(engine: head);
        });
    }

    /// <summary>Recompute and swap with prefix caching on: the worker applies each step's swap-out,
    /// swap-in and copy-on-write to its own layers' part of every block, with the head's block ids.</summary>
    [Theory]
    [InlineData("stories260K", PreemptionMode.Recompute, 1)]
    [InlineData("stories260K", PreemptionMode.Swap, 1)]
    [InlineData("llama", PreemptionMode.Recompute, 2)]
    [InlineData("llama", PreemptionMode.Swap, 2)]
    public Task TwoStagesOverAWorkerNodeMatchTheDenseReferenceUnderPreemption(string model, PreemptionMode mode, int ranks)
    {
        var (workload, blockSize, kvTokens) = model == "llama"
            ? (PagedEngineEquivalenceTests.TinyLlama.Value, 8, 900)
            : (PagedEngineEquivalenceTests.Stories.Value, 16, 1600);
        var options = WorkerNodes.OnCluster(PagedEngineEquivalenceTests.Options(workload, blockSize, mode, "native", kvTokens, ranks, pipelineParallelSize: 2));
        return WorkerNodes.WithInProcessWorkers(options, head => PagedEngineEquivalenceTests.AssertDenseTokensUnderPreemption(head, workload, options));
    }

    [Fact]
    public async Task AHeadWithoutWorkersGivesUpWithAClearError()
    {
        var options = WorkerNodes.Head(SharedModels.Stories260K, 2) with { WorkerTimeoutSeconds = 2 };
        var error = await Assert.ThrowsAsync<TimeoutException>(() => Task.Run(() => InferenceEngine.Start(options)));
        Assert.Contains("pipeline stage 1 of 2 (layers 3-4) has no worker node yet", error.Message);
        Assert.Contains($"llm-engine worker --join 127.0.0.1:{options.ClusterPort}", error.Message);
    }
}
