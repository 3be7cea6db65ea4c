using LlmEngine.Actors.Engine;
using LlmEngine.Kernels.Sampling;
using LlmEngine.Tests.Engine;
using LlmEngine.Tests.Families;
using LlmEngine.Tests.Loading;
using LlmEngine.Tests.Models;
using static LlmEngine.Tests.Sharding.TensorParallelEngineTests;

namespace LlmEngine.Tests.Distributed;

/// <summary>A head and worker nodes as separate ActorSystems joined by Akka.Cluster over loopback
/// (--distributed-executor-backend cluster): the head runs the scheduler and stage 0, each worker a
/// later stage, and the greedy tokens are the whole model's.</summary>
[Trait("Category", "Slow")]
public class PipelineClusterTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public async Task Stories260KOverAWorkerNodeGeneratesRunCTokensOnEveryReferencePrompt(int ranks)
    {
        var (head, workers) = await WorkerNodes.Start(WorkerNodes.Head(SharedModels.Stories260K, 2, ranks), WorkerNodes.InProcess);
        try
        {
            var rows = Stories260KReferenceTests.Rows;
            var outputs = await Task.WhenAll(rows.Select((row, i) =>
                Tokens(head, $"r{i}", row.PromptIds, new SamplingParameters { Temperature = 0, MaxTokens = row.Generated.Length })));
            for (int i = 0; i < rows.Count; i++) Assert.Equal(rows[i].Generated, outputs[i]);
            await EngineRuns.AssertAllBlocksFree(engine: head);
            Assert.True(head.PipelineBoundaries.Bytes > 0);
        }
        finally
        {
            await head.DisposeAsync();
            foreach (var worker in workers) await worker.Terminate();
        }
    }

    [Theory]
    [InlineData("gpt2")]
    [InlineData("opt")]
    [InlineData("llama")]
    public async Task TinyModelsOverAWorkerNodeGenerateTransformersGreedyTokens(string family)
    {
        var reference = TinyHfReference.Of(family);
        var (head, workers) = await WorkerNodes.Start(WorkerNodes.Head(SharedModels.TinyHf(family), 2), WorkerNodes.InProcess);
        try
        {
            var sampling = new SamplingParameters { Temperature = 0, MaxTokens = reference.Greedy[0].Length, IgnoreEos = true };
            var outputs = await Task.WhenAll(reference.Inputs.Select((input, i) => Tokens(head, $"r{i}", input, sampling)));
            for (int i = 0; i < outputs.Length; i++) Assert.Equal(reference.Greedy[i], outputs[i]);
        }
        finally
        {
            await head.DisposeAsync();
            foreach (var worker in workers) await worker.Terminate();
        }
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
