using System.Diagnostics;
using System.Runtime.CompilerServices;
using LlmEngine.Actors.Distributed;
using LlmEngine.Actors.Engine;
using LlmEngine.Kernels.Runtime;
using LlmEngine.Kernels.Sharding;

namespace LlmEngine.Host.Bench;

/// <summary>One row of <c>bench batch</c>: prompt throughput (all prompt tokens over the time
/// until every sequence has its first token) and generation throughput (the tokens after each
/// sequence's first, over the rest of the time), as llama.cpp's batched-bench reports them.
/// <see cref="EngineOverhead"/> is the share of step time outside the forward pass and sampling
/// (the engine's figure, warm-up included).</summary>
internal sealed record BatchRow(int BatchSize, int InputLength, int OutputLength, double PromptSeconds, double GenerationSeconds, long NumSteps, long Preemptions, double EngineOverhead)
{
    /// <summary>Where the steps' time went (with <c>--profile</c>): steps with prompt tokens, steps that only decode.</summary>
    public (ProfileSnapshot Prompt, ProfileSnapshot Decode)? Profile { get; init; }

    /// <summary>Each tensor-parallel rank's compute and all-reduce time in the measured part (empty when the model is whole).</summary>
    public IReadOnlyList<RankTimes> Ranks { get; init; } = [];

    /// <summary>Pipeline stage hand-overs in the measured part (null without stages).</summary>
    public PipelineBoundaryTimes? Boundaries { get; init; }

    public double PromptTokensPerSecond => BatchSize * (double)InputLength / PromptSeconds;
    public double GenerationTokensPerSecond => GenerationSeconds > 0 ? BatchSize * (double)(OutputLength - 1) / GenerationSeconds : 0;
    /// <summary>Mean time of a decode step (all sequences advance one token per step).</summary>
    public double StepMilliseconds => OutputLength > 1 ? GenerationSeconds / (OutputLength - 1) * 1000 : 0;
}

/// <summary>
/// Runs each batch size in turn: a warm-up request first (libtorch's first calls are slow, and .NET
/// compiles a method's optimized code only after some 30 calls: a warm-up of a few decode steps left a
/// batch-1 row's measured steps partly in unoptimized code),
/// then all sequences of random prompt tokens submitted at once, greedy, EOS ignored. Each row runs
/// on a fresh engine (so nothing cached from an earlier row helps), whose KV cache, unless its size
/// is given, holds exactly the batch, so nothing is preempted and no memory is wasted on a huge
/// cache. With the cluster backend the rows share one engine instead, its cache sized for the
/// largest batch: the worker nodes belong to their head and leave the cluster when it stops. The
/// rows' random prompts share no block, so the shared cache gives a later row no prefix hit.
/// </summary>
internal static class BatchBench
{
    public static async IAsyncEnumerable<(BatchRow Row, LlmEngine.Kernels.Models.ModelConfig Config)> RunAsync(EngineOptions options,
        IReadOnlyList<int> batchSizes, int inputLength, int outputLength, int seed, Action onToken, [EnumeratorCancellation] CancellationToken cancel = default)
    {
        if (options.DistributedExecutorBackend == "cluster")
        {
            await using var shared = InferenceEngine.Start(Sized(options, batchSizes.Max(), inputLength, outputLength), log: Console.Error.WriteLine);
            foreach (int b in batchSizes) yield return await RowAsync(shared, b, inputLength, outputLength, seed, onToken, cancel);
            yield break;
        }
        foreach (int b in batchSizes)
        {
            await using var engine = InferenceEngine.Start(Sized(options, b, inputLength, outputLength), log: Console.Error.WriteLine);
            yield return await RowAsync(engine, b, inputLength, outputLength, seed, onToken, cancel);
        }
    }

    // Decode steps of the warm-up request: enough calls for tiered compilation to replace the per-step
    // code with its optimized version before the measured steps.
    private const int WarmupSteps = 128;

    private static EngineOptions Sized(EngineOptions options, int batchSize, int inputLength, int outputLength)
    {
        var sized = options with { };
        if (sized.NumBlocks == 0 && sized.KvCacheSpaceGiB == 0)
            sized.NumBlocks = batchSize * ((inputLength + outputLength + sized.BlockSize - 1) / sized.BlockSize);
        return sized;
    }

    private static async Task<(BatchRow Row, LlmEngine.Kernels.Models.ModelConfig Config)> RowAsync(InferenceEngine engine, int batchSize, int inputLength, int outputLength,
        int seed, Action onToken, CancellationToken cancel)
    {
        var random = new Random(seed + batchSize);
        var warmup = BenchDataset.Generate(new DatasetSpec(DatasetKind.Random, 1, Math.Min(16, inputLength), Math.Min(WarmupSteps, outputLength), Seed: random.Next()),
            engine.ModelConfig.VocabSize, DatasetOptionSet.ContextOf(engine));
        await ThroughputBench.RunAsync(engine, warmup, () => { }, cancel);
        var before = await engine.RefreshStatisticsAsync();

        var prompts = BenchDataset.Generate(new DatasetSpec(DatasetKind.Random, batchSize, inputLength, outputLength, Seed: random.Next()),
            engine.ModelConfig.VocabSize, DatasetOptionSet.ContextOf(engine));
        if (prompts.Any(p => p.PromptLength != inputLength || p.OutputLength != outputLength))
            throw new ArgumentException($"{inputLength} + {outputLength} tokens do not fit the model's context ({engine.MaxModelLength})");
        ForwardProfile.Reset();
        var ranksBefore = engine.TensorParallelRanks;
        var boundariesBefore = engine.PipelineBoundaries;
        var startedAt = DateTime.UtcNow;
        var clock = Stopwatch.StartNew();
        var times = await Task.WhenAll(prompts.Select((p, i) => Run(engine, $"batch-{i}", p, startedAt, clock, onToken, cancel)));
        var after = await engine.RefreshStatisticsAsync();
        double firstTokens = times.Max(t => t.First), end = times.Max(t => t.End);
        return (new BatchRow(batchSize, inputLength, outputLength, firstTokens, end - firstTokens,
            after.NumSteps - before.NumSteps, after.NumPreemptions - before.NumPreemptions, after.EngineOverheadFraction)
        {
            Profile = ForwardProfile.Enabled ? (ForwardProfile.Snapshot(ProfilePhase.Prompt), ForwardProfile.Snapshot(ProfilePhase.Decode)) : null,
            Ranks = engine.TensorParallelRanks.Zip(ranksBefore, (now, then) => now.Since(then)).ToArray(),
            Boundaries = engine.Options.PipelineParallelSize > 1 ? engine.PipelineBoundaries.Since(boundariesBefore) : null,
        }, engine.ModelConfig);
    }

    // The first token's time is when the engine produced it, not when this task saw it: the profile
    // splits steps at that same boundary, and a busy thread pool must not move a decode step's
    // forward pass into the prompt phase's wall time.
    private static async Task<(double First, double End)> Run(InferenceEngine engine, string id, BenchRequest prompt, DateTime startedAt, Stopwatch clock,
        Action onToken, CancellationToken cancel)
    {
        await Task.Yield();
        RequestTimings? timings = null;
        int tokens = 0;
        var request = new GenerationRequest(id, prompt.PromptTokenIds, ThroughputBench.Sampling(prompt.OutputLength));
        await foreach (var output in engine.GenerateAsync(request, cancel))
        {
            timings ??= output.Timings;
            foreach (var delta in output.Deltas)
                for (int i = 0; i < delta.TokenIds.Count; i++)
                {
                    tokens++;
                    onToken();
                }
        }
        if (tokens != prompt.OutputLength || timings is null) throw new InvalidOperationException($"{id} generated {tokens} of {prompt.OutputLength} tokens");
        return ((timings.Arrival - startedAt).TotalSeconds + timings.FirstTokenSeconds, clock.Elapsed.TotalSeconds);
    }
}
