using System.Diagnostics;
using System.Runtime;
using System.Runtime.CompilerServices;
using LlmEngine.Actors.Distributed;
using LlmEngine.Actors.Engine;
using LlmEngine.Kernels.Runtime;
using LlmEngine.Kernels.Sharding;

namespace LlmEngine.Host.Bench;

/// <summary>One row of <c>bench batch</c>: prompt throughput (all prompt tokens over the time
/// until every sequence has its first token) and generation throughput (the tokens after each
/// sequence's first, over the rest of the time), as llama.cpp's batched-bench reports them.
/// <see cref="PromptSeconds"/> is the median of <see cref="PromptRounds"/> such prompt rounds.
/// <see cref="EngineOverhead"/> is the share of step time outside the forward pass and sampling
/// (the engine's figure, warm-up included).</summary>
internal sealed record BatchRow(int BatchSize, int InputLength, int OutputLength, double PromptSeconds, double GenerationSeconds, long NumSteps, long Preemptions, double EngineOverhead)
{
    /// <summary>Each prompt round's time (all sequences' prompts to their first tokens; the last round's then
    /// generate): <see cref="PromptSeconds"/> is their median, their sum the wall time of the profile's prompt steps.</summary>
    public IReadOnlyList<double> PromptRoundSeconds { get; init; } = [];

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
/// Runs each batch size in turn: a warm-up first (libtorch's first calls are slow, and .NET
/// compiles a method's optimized code only after some 30 calls: a warm-up of a few decode steps left a
/// batch-1 row's measured steps partly in unoptimized code), then all sequences of random prompt tokens
/// submitted at once, greedy, EOS ignored. The warm-up is a request of 128 decode steps and a prompt round
/// of the measured shape (the first prompt of a size takes code paths, tensor blocks and pages that a
/// 16-token warm-up prompt never touched: a process's first 128-token prompt step ran up to ~30% slower than the next),
/// then a wait for the runtime's background compilations to finish.
/// A batch-1 prompt is one step of ~60-130 ms, so the prompt is measured over several rounds (each the
/// batch's prompts to their first tokens, at least <see cref="MinPromptTokens"/> tokens in all) and the row
/// reports their median; the last round goes on to generate. Each row runs
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

    // The measured prompt rounds hold at least this many prompt tokens in all, in at most 9 rounds.
    private const int MinPromptTokens = 1024;

    /// <summary>Prompt rounds measured for a shape, an odd number (their median is one of them): 9 at one
    /// 128-token sequence, 1 from 8 such sequences on (a round of 1,024 tokens or more is one step of that many rows or several).</summary>
    public static int PromptRounds(int batchSize, int inputLength) =>
        (int)Math.Min(9, (MinPromptTokens + (long)batchSize * inputLength - 1) / ((long)batchSize * inputLength)) | 1;

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
        var context = DatasetOptionSet.ContextOf(engine);
        IReadOnlyList<BenchRequest> Prompts(int count, int input, int output)
        {
            var prompts = BenchDataset.Generate(new DatasetSpec(DatasetKind.Random, count, input, output, Seed: random.Next()), engine.ModelConfig.VocabSize, context);
            if (prompts.Any(p => p.PromptLength != input || p.OutputLength != output))
                throw new ArgumentException($"{input} + {output} tokens do not fit the model's context ({engine.MaxModelLength})");
            return prompts;
        }
        await ThroughputBench.RunAsync(engine, Prompts(1, Math.Min(16, inputLength), Math.Min(WarmupSteps, outputLength)), () => { }, cancel);
        await RoundAsync(engine, "warmup", Prompts(batchSize, inputLength, 1), () => { }, cancel);
        await CompilerQuietAsync(cancel);
        var before = await engine.RefreshStatisticsAsync();

        ForwardProfile.Reset();
        var ranksBefore = engine.TensorParallelRanks;
        var boundariesBefore = engine.PipelineBoundaries;
        int rounds = PromptRounds(batchSize, inputLength);
        var promptTimes = new List<double>();
        for (int i = 1; i < rounds; i++) promptTimes.Add((await RoundAsync(engine, $"prompt{i}", Prompts(batchSize, inputLength, 1), () => { }, cancel)).First);
        var (firstTokens, end) = await RoundAsync(engine, "batch", Prompts(batchSize, inputLength, outputLength), onToken, cancel);
        promptTimes.Add(firstTokens);
        var after = await engine.RefreshStatisticsAsync();
        return (new BatchRow(batchSize, inputLength, outputLength, promptTimes.Order().ElementAt(rounds / 2), end - firstTokens,
            after.NumSteps - before.NumSteps, after.NumPreemptions - before.NumPreemptions, after.EngineOverheadFraction)
        {
            PromptRoundSeconds = promptTimes,
            Profile = ForwardProfile.Enabled ? (ForwardProfile.Snapshot(ProfilePhase.Prompt), ForwardProfile.Snapshot(ProfilePhase.Decode)) : null,
            Ranks = engine.TensorParallelRanks.Zip(ranksBefore, (now, then) => now.Since(then)).ToArray(),
            Boundaries = engine.Options.PipelineParallelSize > 1 ? engine.PipelineBoundaries.Since(boundariesBefore) : null,
        }, engine.ModelConfig);
    }

    /// <summary>Waits (at most 3 s) until the runtime has compiled no method for 250 ms: the optimized versions that
    /// the warm-up's calls earned are compiled on a background thread, which otherwise took a core from the first
    /// measured steps (seen in perf of batch-1 rows; a server running for a while has none of that left).</summary>
    private static async Task CompilerQuietAsync(CancellationToken cancel)
    {
        var clock = Stopwatch.StartNew();
        for (long count = JitInfo.GetCompiledMethodCount(); clock.Elapsed < TimeSpan.FromSeconds(3);)
        {
            await Task.Delay(250, cancel);
            long now = JitInfo.GetCompiledMethodCount();
            if (now == count) return;
            count = now;
        }
    }

    /// <summary>All prompts submitted at once: seconds until every one has its first token, and until every one is done.</summary>
    private static async Task<(double First, double End)> RoundAsync(InferenceEngine engine, string round, IReadOnlyList<BenchRequest> prompts, Action onToken, CancellationToken cancel)
    {
        var startedAt = DateTime.UtcNow;
        var clock = Stopwatch.StartNew();
        var times = await Task.WhenAll(prompts.Select((p, i) => Run(engine, $"{round}-{i}", p, startedAt, clock, onToken, cancel)));
        return (times.Max(t => t.First), times.Max(t => t.End));
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
