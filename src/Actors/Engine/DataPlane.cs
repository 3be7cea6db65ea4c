using Akka.Actor;
using LlmEngine.Actors.Distributed;
using LlmEngine.Contracts;
using LlmEngine.Kernels.Attention;
using LlmEngine.Kernels.Cache;
using LlmEngine.Kernels.Loading;
using LlmEngine.Kernels.Models;
using LlmEngine.Kernels.Native;
using LlmEngine.Kernels.Runtime;
using LlmEngine.Kernels.Sharding;
using TorchSharp;

namespace LlmEngine.Actors.Engine;

/// <summary>
/// What the worker computes with: the model, whole or split over --tensor-parallel-size ranks and
/// --pipeline-parallel-size stages, each part with its KV cache and swap space (the same block ids
/// everywhere: a rank's blocks hold its own key/value heads, a stage's its own layers), and the
/// runner the worker calls each step. Built before the actors start.
/// </summary>
internal sealed class DataPlane : IDisposable
{
    private readonly IDisposable _resources;

    private DataPlane(LoadedModel model, IStepRunner runner, int deviceBlocks, int swapBlocks, string attention, IDisposable resources)
    {
        (Model, Runner, DeviceBlocks, SwapBlocks, AttentionBackendName, _resources) = (model, runner, deviceBlocks, swapBlocks, attention, resources);
    }

    /// <summary>The whole model, or the first stage's rank 0 part (its config and tokenizer are the model's).</summary>
    public LoadedModel Model { get; }
    public IStepRunner Runner { get; }
    public int DeviceBlocks { get; }
    public int SwapBlocks { get; }
    public string AttentionBackendName { get; }

    public static int MaxModelLength(EngineOptions options, ModelConfig config) =>
        options.MaxModelLength > 0 ? Math.Min(options.MaxModelLength, config.MaxPositions) : config.MaxPositions;

    /// <summary>The worker nodes' stages (--distributed-executor-backend cluster), or null when every stage is here.</summary>
    public ClusterStages? RemoteStages { get; private init; }

    /// <param name="wrap">the fault-injection tests' seam around each loaded model</param>
    /// <param name="system">the head's clustered ActorSystem (--distributed-executor-backend cluster)</param>
    public static DataPlane Create(EngineOptions options, Func<ICausalLanguageModel, ICausalLanguageModel>? wrap = null, ActorSystem? system = null,
        Action<string>? log = null)
    {
        int stages = options.PipelineParallelSize;
        if (options.DistributedExecutorBackend == "cluster")
            return Clustered(options, system ?? throw new ArgumentNullException(nameof(system), "the cluster backend needs the head's ActorSystem"), log ?? (_ => { }));
        if (stages == 1)
        {
            var whole = Stage(options, PipelineStage.Whole, wrap);
            return new DataPlane(whole.Model, whole.Whole, whole.Blocks.Device, whole.Blocks.Swap, whole.Attention, whole.Resources);
        }
        var built = new List<BuiltStage>();
        try
        {
            for (int s = 0; s < stages; s++) built.Add(Stage(options, PipelineStage.Of(s, stages), wrap));
        }
        catch
        {
            foreach (var stage in built) stage.Resources.Dispose();
            throw;
        }
        var runner = new PipelineRunner([.. built.Select(b => b.Runner)], new Owned([.. built.Select(b => b.Resources)]));
        var first = built[0];
        return new DataPlane(first.Model, runner, first.Blocks.Device, first.Blocks.Swap, first.Attention, runner);
    }

    // Stage 0 here; stages 1 to P-1 on worker nodes, which the head waits for. Stage 0 also holds the final
    // norm and the LM head (HeadOnFirst): the head samples, so the last stage sends back the hidden states of
    // the sample rows (hidden values each) rather than their logits (vocabulary values each: 42x more for
    // llama-110m, 8x for LLaMA-7B), and the head computes the logits from them.
    private static DataPlane Clustered(EngineOptions options, ActorSystem system, Action<string> log)
    {
        int size = options.PipelineParallelSize;
        var head = Stage(options, PipelineStage.Of(0, size) with { HeadOnFirst = true }, null);
        int layers = head.Model.Config.NumLayers;
        string Describe(int s)
        {
            var (first, count) = PipelineStage.Of(s, size).LayersOf(layers);
            return $"pipeline stage {s} of {size} (layers {first}-{first + count - 1})";
        }
        var stages = new ClusterStages(size, Describe, TimeSpan.FromSeconds(options.StageStepTimeoutSeconds));
        var settings = new StageSettings(options.Model, options.LoadFormat, options.DType, options.Quantization, options.BlockSize, options.Seed,
            options.TensorParallelSize, options.AttentionBackend, options.MaxModelLength, head.Blocks.Device, options.SwapSpaceGiB, options.PreemptionMode.ToString());
        IActorRef directory;
        try
        {
            directory = system.ActorOf(StageDirectoryActor.Props(stages, s => new StageAssignment(s, size, settings),
                ModelFingerprint.Of(options.Model, options.LoadFormat), log), StageDirectoryActor.Name);
        }
        catch
        {
            head.Resources.Dispose();
            throw;
        }
        stages.Unresponsive += (node, lost, why) => directory.Tell(new StageDirectoryActor.Unresponsive(node, lost, why));
        var resources = new Owned(head.Resources, new Stopping(directory));
        try
        {
            WaitForWorkers(options, stages, log);
        }
        catch
        {
            resources.Dispose();
            throw;
        }
        var runner = new PipelineRunner([head.Runner, .. Enumerable.Range(1, size - 1).Select(s => new RemoteStageRunner(stages, s)),
            new HeadStageRunner((IHeadRunner)head.Runner)], resources);
        return new DataPlane(head.Model, runner, head.Blocks.Device, head.Blocks.Swap, head.Attention, runner) { RemoteStages = stages };
    }

    private static void WaitForWorkers(EngineOptions options, ClusterStages stages, Action<string> log)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        string join = $"{options.ClusterHost}:{options.ClusterPort}";
        log($"waiting for {stages.Count - 1} worker node(s) to load pipeline stages 1-{stages.Count - 1} (start each with: llm-engine worker --join {join})");
        var nextLine = TimeSpan.FromSeconds(5);
        while (stages.MissingReason is { } missing)
        {
            if (clock.Elapsed.TotalSeconds > options.WorkerTimeoutSeconds)
                throw new TimeoutException($"no worker node within {options.WorkerTimeoutSeconds:0.#} s: {missing} (start one with: llm-engine worker --join {join})");
            if (clock.Elapsed > nextLine)
            {
                log($"still waiting ({clock.Elapsed.TotalSeconds:0} s): {missing}");
                nextLine += TimeSpan.FromSeconds(5);
            }
            Thread.Sleep(50);
        }
        log($"every pipeline stage has its worker node ({clock.Elapsed.TotalSeconds:0.0} s)");
    }

    private sealed class Stopping(IActorRef actor) : IDisposable
    {
        public void Dispose() => actor.Tell(PoisonPill.Instance);
    }

    /// <summary>One stage as built: its model (rank 0's part), runner, KV block counts and what it owns.</summary>
    internal sealed record BuiltStage(LoadedModel Model, IStageRunner Runner, IStepRunner Whole, (int Device, int Swap) Blocks, string Attention, IDisposable Resources);

    /// <summary>One stage (or the whole model): its ranks when tensor-parallel, else one part.</summary>
    internal static BuiltStage Stage(EngineOptions options, PipelineStage stage, Func<ICausalLanguageModel, ICausalLanguageModel>? wrap)
    {
        int size = options.TensorParallelSize;
        if (size == 1)
        {
            var part = Part(options, TensorShard.Whole, stage, wrap, out var loaded, out var blocks, out var attention);
            return new BuiltStage(loaded, part.Runner, part.Runner, blocks, attention, part.Resources);
        }
        // Each rank computes on its share of the process's cores (stages run one after the other).
        int threads = Math.Max(1, (NativeKernels.IsAvailable ? NativeKernels.Threads : Environment.ProcessorCount) / size);
        LoadedModel? first = null;
        (int Device, int Swap) sized = default;
        string name = "";
        var runner = TensorParallelRunner.Start(size, threads, shard =>
        {
            var parts = Part(options, shard, stage, wrap, out var loaded, out var blocks, out var attention);
            if (shard.Rank == 0) (first, sized, name) = (loaded, blocks, attention);
            return parts;
        });
        return new BuiltStage(first!, runner, runner, sized, name, runner);
    }

    // One rank of one stage: its model part, caches of its key/value heads and layers, attention backend and runner.
    // Blocks are counted for the whole model, so every part holds the same block ids the one block manager hands out.
    private static RankParts Part(EngineOptions options, TensorShard shard, PipelineStage stage, Func<ICausalLanguageModel, ICausalLanguageModel>? wrap,
        out LoadedModel loaded, out (int Device, int Swap) blocks, out string attentionName)
    {
        var dtype = ModelFactory.ParseDType(options.DType);
        loaded = ModelFactory.Load(options.Model, options.LoadFormat, dtype, new torch.Device(options.Device), options.Seed, options.MaxModelLength,
            ModelFactory.ParseQuantization(options.Quantization), dequantizeGguf: options.Quantization == "none", shard: shard, stage: stage);
        if (wrap is not null) loaded = loaded with { Model = wrap(loaded.Model) };
        var config = loaded.Config;
        int kvHeads = shard.Heads(config).Kv;
        var (firstLayer, layers) = stage.LayersOf(config.NumLayers);
        blocks = KvCacheSizing.Blocks(options, config, MaxModelLength(options, config), loaded.Model.DType, kvHeads * shard.Size);
        var cache = new PagedKvCache(layers, blocks.Device, options.BlockSize, kvHeads, config.HeadSize, loaded.Model.DType, loaded.Model.Device);
        var swap = blocks.Swap > 0 ? new PagedKvCache(layers, blocks.Swap, options.BlockSize, kvHeads, config.HeadSize, loaded.Model.DType, torch.CPU) : null;
        var backend = AttentionBackends.Create(options.AttentionBackend, cache);
        attentionName = backend.Name;
        var attention = stage.IsWhole ? backend : new StageAttention(backend, firstLayer);
        var runner = new ModelRunner(loaded.Model, attention, new BlockMoves(cache, swap));
        return new RankParts(runner, new Owned(loaded, cache, swap));
    }

    private sealed class Owned(params IDisposable?[] parts) : IDisposable
    {
        public void Dispose()
        {
            foreach (var part in parts) part?.Dispose();
        }
    }

    public void Dispose() => _resources.Dispose();
}
