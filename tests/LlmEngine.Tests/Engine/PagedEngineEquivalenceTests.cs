using LlmEngine.Actors.Engine;
using LlmEngine.Kernels.Sampling;
using LlmEngine.Scheduling;
using LlmEngine.Tests.Loading;

namespace LlmEngine.Tests.Engine;

/// <summary>
/// The paged engine's central invariant: whatever the batch mix, block size, preemption mode and
/// order of arrival, greedy output equals the dense reference path run alone; and when all
/// requests end every block is free and the pool's counts are consistent.
/// </summary>
[Trait("Category", "Slow")]
public class PagedEngineEquivalenceTests
{
    internal static readonly Lazy<GreedyWorkload> Stories = new(() => GreedyWorkload.Create(SharedModels.Stories260K, 64, 400, 512, seed: 7));
    internal static readonly Lazy<GreedyWorkload> TinyLlama = new(() => GreedyWorkload.Create(SharedModels.TinyHf("llama"), 64, 200, 256, seed: 11));

    public static TheoryData<int, PreemptionMode, string> Configurations()
    {
        var data = new TheoryData<int, PreemptionMode, string>();
        foreach (string backend in new[] { "native", "torch" })
            foreach (int blockSize in new[] { 1, 8, 16, 32 })
                foreach (var mode in new[] { PreemptionMode.Recompute, PreemptionMode.Swap })
                    data.Add(blockSize, mode, backend);
        return data;
    }

    [Theory]
    [MemberData(nameof(Configurations))]
    public Task Stories260KMatchesDenseReferenceUnderPreemption(int blockSize, PreemptionMode mode, string backend) =>
        RunAndCompare(Stories.Value, blockSize, mode, backend, kvTokens: 1600);

    [Theory]
    [MemberData(nameof(Configurations))]
    public Task GroupedQueryRandomModelMatchesDenseReferenceUnderPreemption(int blockSize, PreemptionMode mode, string backend) =>
        RunAndCompare(TinyLlama.Value, blockSize, mode, backend, kvTokens: 900);

    internal static async Task RunAndCompare(GreedyWorkload workload, int blockSize, PreemptionMode mode, string backend, int kvTokens, int tensorParallelSize = 1,
        int pipelineParallelSize = 1)
    {
        var options = Options(workload, blockSize, mode, backend, kvTokens, tensorParallelSize, pipelineParallelSize);
        var held = new HeldModels();
        await using var engine = InferenceEngine.Start(options, held.Wrap);
        await AssertDenseTokensUnderPreemption(engine, workload, options, held);
    }

    /// <summary>Options whose KV budget (<paramref name="kvTokens"/>) forces preemption on <paramref name="workload"/>.</summary>
    internal static EngineOptions Options(GreedyWorkload workload, int blockSize, PreemptionMode mode, string backend, int kvTokens, int tensorParallelSize = 1,
        int pipelineParallelSize = 1) => new()
    {
        Model = workload.ModelPath,
        BlockSize = blockSize,
        NumBlocks = kvTokens / blockSize,
        PreemptionMode = mode,
        SwapSpaceGiB = 0.05,
        MaxNumBatchedTokens = 512,
        AttentionBackend = backend,
        TensorParallelSize = tensorParallelSize,
        PipelineParallelSize = pipelineParallelSize,
    };

    /// <summary>Runs <paramref name="workload"/> on <paramref name="engine"/> (started with <paramref name="options"/>) and
    /// asserts the dense reference's tokens, that preemption happened, and that every block is free at the end.</summary>
    /// <param name="held">the engine's held models, when it was started over them: the first half of the requests then
    /// reaches the scheduler before any of them runs (without them, over worker nodes, the first half arrives as fast as
    /// it is submitted)</param>
    internal static async Task AssertDenseTokensUnderPreemption(InferenceEngine engine, GreedyWorkload workload, EngineOptions options, HeldModels? held = null)
    {
        var random = new Random(options.BlockSize * 31 + (int)options.PreemptionMode);
        var order = Enumerable.Range(0, workload.Prompts.Count).OrderBy(_ => random.Next()).ToList();
        var results = new Task<int[]>[workload.Prompts.Count];
        void Submit(int i) => results[i] = Collect(engine,
            new GenerationRequest($"r{i}", workload.Prompts[i], new SamplingParameters { Temperature = 0, MaxTokens = workload.MaxTokens[i], IgnoreEos = true }));
        // The first half arrives at once (so the KV budget binds and preemption must happen); the
        // rest arrive at random moments while those run.
        int half = order.Count / 2;
        void SubmitFirstHalf() => order.Take(half).ToList().ForEach(Submit);
        if (held is null) SubmitFirstHalf();
        else held.SubmitTogether(SubmitFirstHalf);
        foreach (int i in order.Skip(half))
        {
            Submit(i);
            if (random.Next(4) == 0) await Task.Delay(random.Next(1, 10));
        }
        var outputs = await Task.WhenAll(results);
        for (int i = 0; i < outputs.Length; i++)
            Assert.True(workload.Expected[i].SequenceEqual(outputs[i]),
                $"request {i} (prompt {workload.Prompts[i].Length} tokens): expected [{string.Join(",", workload.Expected[i])}] got [{string.Join(",", outputs[i])}]");

        var stats = await engine.RefreshStatisticsAsync();
        Assert.True(stats.NumPreemptions > 0, "the KV budget was meant to force preemption");
        Assert.Equal(stats.BlocksTotal, stats.BlocksFree);
        Assert.Null(await engine.CheckBlockInvariantsAsync());
    }

    // Tells the engine of the request before it returns (the held engine's SubmitTogether counts on it).
    private static async Task<int[]> Collect(InferenceEngine engine, GenerationRequest request)
    {
        var tokens = new List<int>();
        await foreach (var output in engine.GenerateAsync(request))
            foreach (var delta in output.Deltas) tokens.AddRange(delta.TokenIds);
        return tokens.ToArray();
    }
}
