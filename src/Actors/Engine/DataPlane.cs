using LlmEngine.Kernels.Attention;
using LlmEngine.Kernels.Cache;
using LlmEngine.Kernels.Models;
using LlmEngine.Kernels.Native;
using LlmEngine.Kernels.Runtime;
using LlmEngine.Kernels.Sharding;
using TorchSharp;

namespace LlmEngine.Actors.Engine;

/// <summary>
/// What the worker computes with: the model, whole or split over --tensor-parallel-size ranks, each
/// with its KV cache and swap space (the same block ids on every rank, each holding its own
/// key/value heads), and the runner the worker calls each step. Built before the actors start.
/// </summary>
internal sealed class DataPlane : IDisposable
{
    private readonly IDisposable _resources;

    private DataPlane(LoadedModel model, IStepRunner runner, int deviceBlocks, int swapBlocks, string attention, IDisposable resources)
    {
        (Model, Runner, DeviceBlocks, SwapBlocks, AttentionBackendName, _resources) = (model, runner, deviceBlocks, swapBlocks, attention, resources);
    }

    /// <summary>The whole model, or rank 0's shard (its config and tokenizer are the model's).</summary>
    public LoadedModel Model { get; }
    public IStepRunner Runner { get; }
    public int DeviceBlocks { get; }
    public int SwapBlocks { get; }
    public string AttentionBackendName { get; }

    public static int MaxModelLength(EngineOptions options, ModelConfig config) =>
        options.MaxModelLength > 0 ? Math.Min(options.MaxModelLength, config.MaxPositions) : config.MaxPositions;

    /// <param name="wrap">the fault-injection tests' seam around each loaded model</param>
    public static DataPlane Create(EngineOptions options, Func<ICausalLanguageModel, ICausalLanguageModel>? wrap = null)
    {
        int size = options.TensorParallelSize;
        if (size == 1)
        {
            var rank = Rank(options, TensorShard.Whole, wrap, out var loaded, out var blocks, out var attention);
            return new DataPlane(loaded, rank.Runner, blocks.Device, blocks.Swap, attention, rank.Resources);
        }
        // Each rank computes on its share of the process's cores.
        int threads = Math.Max(1, (NativeKernels.IsAvailable ? NativeKernels.Threads : Environment.ProcessorCount) / size);
        LoadedModel? first = null;
        (int Device, int Swap) sized = default;
        string name = "";
        var runner = TensorParallelRunner.Start(size, threads, shard =>
        {
            var parts = Rank(options, shard, wrap, out var loaded, out var blocks, out var attention);
            if (shard.Rank == 0) (first, sized, name) = (loaded, blocks, attention);
            return parts;
        });
        return new DataPlane(first!, runner, sized.Device, sized.Swap, name, runner);
    }

    // One rank: its model shard, caches of its key/value heads, attention backend and runner.
    private static RankParts Rank(EngineOptions options, TensorShard shard, Func<ICausalLanguageModel, ICausalLanguageModel>? wrap,
        out LoadedModel loaded, out (int Device, int Swap) blocks, out string attentionName)
    {
        var dtype = ModelFactory.ParseDType(options.DType);
        loaded = ModelFactory.Load(options.Model, options.LoadFormat, dtype, new torch.Device(options.Device), options.Seed, options.MaxModelLength,
            ModelFactory.ParseQuantization(options.Quantization), dequantizeGguf: options.Quantization == "none", shard: shard);
        if (wrap is not null) loaded = loaded with { Model = wrap(loaded.Model) };
        var config = loaded.Config;
        int kvHeads = shard.Heads(config).Kv;
        blocks = KvCacheSizing.Blocks(options, config, MaxModelLength(options, config), loaded.Model.DType, kvHeads * shard.Size);
        var cache = new PagedKvCache(config.NumLayers, blocks.Device, options.BlockSize, kvHeads, config.HeadSize, loaded.Model.DType, loaded.Model.Device);
        var swap = blocks.Swap > 0 ? new PagedKvCache(config.NumLayers, blocks.Swap, options.BlockSize, kvHeads, config.HeadSize, loaded.Model.DType, torch.CPU) : null;
        var attention = AttentionBackends.Create(options.AttentionBackend, cache);
        attentionName = attention.Name;
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
