using LlmEngine.Kernels.Sampling;
using LlmEngine.Scheduling;
using LlmEngine.Tests.Engine;
using LlmEngine.Tests.Families;
using LlmEngine.Tests.Loading;
using LlmEngine.Tests.Models;
using static LlmEngine.Tests.Sharding.TensorParallelEngineTests;

namespace LlmEngine.Tests.Distributed;

/// <summary>--tensor-parallel-across-nodes: each tensor-parallel rank on a node of its own, the head and worker
/// nodes as separate ActorSystems joined by Akka.Cluster over loopback, the ranks' all-reduces over TCP between
/// them. The greedy tokens are the whole model's (the logits' equality is <c>SocketAllReduceTests</c>').</summary>
[Trait("Category", "Slow")]
public class TensorParallelClusterTests
{
    /// <summary>T=2: the head's rank 0 and one worker node's rank 1; with P=2 also both ranks of stage 1 on two more.</summary>
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public Task Stories260KOverRankNodesGeneratesRunCTokensOnEveryReferencePrompt(int stages) =>
        WorkerNodes.WithInProcessWorkers(WorkerNodes.Head(SharedModels.Stories260K, stages, ranks: 2, acrossNodes: true), async head =>
        {
            await AssertRunCTokensOnEveryReferencePrompt(head);
            // Every rank's compute and all-reduces, the workers' as they reported them (bench batch prints these).
            Assert.Equal(2 * stages, head.TensorParallelRanks.Count);
            Assert.All(head.TensorParallelRanks, rank => Assert.True(rank.ForwardSeconds > 0 && rank.AllReduces > 0 && rank.BytesReduced > 0, $"{rank}"));
        });

    /// <summary>Grouped-query attention: 8 query heads and 2 key/value heads, 4 and 1 per rank.</summary>
    [Fact]
    public Task TinyGqaLlamaOverTwoRankNodesGeneratesTransformersGreedyTokens()
    {
        var reference = TinyHfReference.Of("llama");
        return WorkerNodes.WithInProcessWorkers(WorkerNodes.Head(SharedModels.TinyHf("llama"), 1, ranks: 2, acrossNodes: true), async head =>
        {
            await AssertTransformersGreedyTokens(head, reference);
            await EngineRuns.AssertAllBlocksFree(engine: head);
        });
    }

    /// <summary>Recompute and swap with prefix caching on: each rank applies every step's swap-out, swap-in and
    /// copy-on-write to its own key/value heads' part of each block, with the head's block ids.</summary>
    [Theory]
    [InlineData(PreemptionMode.Recompute)]
    [InlineData(PreemptionMode.Swap)]
    public Task TinyGqaLlamaOverTwoRankNodesMatchesTheDenseReferenceUnderPreemption(PreemptionMode mode)
    {
        var workload = PagedEngineEquivalenceTests.TinyLlama.Value;
        var options = WorkerNodes.OnCluster(PagedEngineEquivalenceTests.Options(workload, 8, mode, "native", 900, tensorParallelSize: 2) with
        {
            TensorParallelAcrossNodes = true,
        });
        return WorkerNodes.WithInProcessWorkers(options, head => PagedEngineEquivalenceTests.AssertDenseTokensUnderPreemption(head, workload, options));
    }
}
