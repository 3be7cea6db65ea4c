using LlmEngine.Kernels.Attention;
using LlmEngine.Kernels.Cache;
using LlmEngine.Kernels.Models;
using LlmEngine.Kernels.Native;
using LlmEngine.Kernels.Runtime;
using LlmEngine.Kernels.Sharding;
using TorchSharp;

namespace LlmEngine.Kernels.Workers;

/// <summary>
/// The data plane: the model, whole or split over tensor-parallel ranks and pipeline stages, each
/// part with its KV cache and swap space (the same block ids everywhere: a rank's blocks hold its
/// own key/value heads, a stage's its own layers), and the runner the control plane calls each
/// step. It knows nothing of actors; stages on other machines come in as <see cref="IStageRunner"/>s
/// (<see cref="Over"/>).
/// </summary>
public sealed class Worker : IDisposable
{
    private readonly IDisposable _resources;

    private Worker(WorkerStage first, IStepRunner runner, IDisposable resources)
    {
        (Model, Runner, DeviceBlocks, SwapBlocks, AttentionBackendName, _resources) =
            (first.Model, runner, first.Blocks.Device, first.Blocks.Swap, first.Attention, resources);
    }

    /// <summary>The whole model, or the first stage's rank 0 part (its config and tokenizer are the model's).</summary>
    public LoadedModel Model { get; }
    public IStepRunner Runner { get; }
    public int DeviceBlocks { get; }
    public int SwapBlocks { get; }
    public string AttentionBackendName { get; }

    /// <summary>Every stage in this process.</summary>
    /// <param name="wrap">the fault-injection tests' seam around each loaded model</param>
    public static Worker Create(WorkerOptions options, Func<ICausalLanguageModel, ICausalLanguageModel>? wrap = null)
    {
        int stages = options.PipelineParallelSize;
        if (stages == 1)
        {
            var whole = Stage(options, PipelineStage.Whole, wrap);
            return new Worker(whole, whole.Whole, whole.Resources);
        }
        var built = new List<WorkerStage>();
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
        return new Worker(built[0], runner, runner);
    }

    /// <summary>The first stage here, the others run by <paramref name="others"/> (on other nodes), in stage order.
    /// Disposing the worker disposes the first stage, then <paramref name="alsoOwned"/>.</summary>
    public static Worker Over(WorkerStage first, IReadOnlyList<IStageRunner> others, IDisposable alsoOwned)
    {
        var runner = new PipelineRunner([first.Runner, .. others], new Owned(first.Resources, alsoOwned));
        return new Worker(first, runner, runner);
    }

    /// <summary>One stage (or the whole model): its ranks when tensor-parallel, else one part.</summary>
    public static WorkerStage Stage(WorkerOptions options, PipelineStage stage, Func<ICausalLanguageModel, ICausalLanguageModel>? wrap = null)
    {
        int size = options.TensorParallelSize;
        if (size == 1) return Rank(options, stage, TensorShard.Whole, wrap);
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
        return new WorkerStage(first!, runner, runner, sized, name, runner);
    }

    /// <summary>One tensor-parallel rank of one stage by itself, its other ranks on other nodes (met through
    /// <paramref name="shard"/>'s all-reduce), or the whole stage when <paramref name="shard"/> is whole: it computes
    /// on the calling thread with all of this process's cores.</summary>
    public static WorkerStage Rank(WorkerOptions options, PipelineStage stage, TensorShard shard, Func<ICausalLanguageModel, ICausalLanguageModel>? wrap = null)
    {
        var part = Part(options, shard, stage, wrap, out var loaded, out var blocks, out var attention);
        return new WorkerStage(loaded, part.Runner, part.Runner, blocks, attention, part.Resources);
    }

    // One rank of one stage: its model part, caches of its key/value heads and layers, attention backend and runner.
    // Blocks are counted for the whole model, so every part holds the same block ids the one block manager hands out.
    private static RankParts Part(WorkerOptions options, TensorShard shard, PipelineStage stage, Func<ICausalLanguageModel, ICausalLanguageModel>? wrap,
        out LoadedModel loaded, out (int Device, int Swap) blocks, out string attentionName)
    {
        var dtype = ModelFactory.ParseDType(options.DType);
        loaded = ModelFactory.Load(options.Model, options.LoadFormat, dtype, new torch.Device(options.Device), options.Seed, options.MaxModelLength,
            ModelFactory.ParseQuantization(options.Quantization), dequantizeGguf: options.Quantization == "none", shard: shard, stage: stage);
        if (wrap is not null) loaded = loaded with { Model = wrap(loaded.Model) };
        var config = loaded.Config;
        int kvHeads = shard.Heads(config).Kv;
        var (firstLayer, layers) = stage.LayersOf(config.NumLayers);
        var cacheDType = KvCacheDTypes.Of(options.KvCacheDType, loaded.Model.DType, loaded.QuantizedWeights);
        KvCacheDTypes.Check(cacheDType, loaded.Model.Device);
        blocks = KvCacheSizing.Blocks(options, config, options.MaxModelLengthOf(config), cacheDType, kvHeads * shard.Size);
        var cache = new PagedKvCache(layers, blocks.Device, options.BlockSize, kvHeads, config.HeadSize, cacheDType, loaded.Model.Device);
        var swap = blocks.Swap > 0 ? new PagedKvCache(layers, blocks.Swap, options.BlockSize, kvHeads, config.HeadSize, cacheDType, torch.CPU) : null;
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
