using LlmEngine.Kernels.Cache;
using LlmEngine.Kernels.Models;
using LlmEngine.Scheduling;
using TorchSharp;

namespace LlmEngine.Kernels.Workers;

/// <summary>How many KV blocks to allocate at start-up: --num-blocks, else --kv-cache-space GiB,
/// else <see cref="WorkerOptions.DefaultKvCacheShare"/> of the memory available to the process, capped at what max-num-seqs
/// sequences of the full model length can use (more would sit idle). The space is what every
/// tensor-parallel rank's cache takes together: <c>kvHeads</c> is the key/value heads they hold in all.</summary>
internal static class KvCacheSizing
{
    public static (int DeviceBlocks, int SwapBlocks) Blocks(WorkerOptions options, ModelConfig config, int maxModelLength, torch.ScalarType dtype, int kvHeads)
    {
        long perBlock = PagedKvCache.BytesPerBlock(config.NumLayers, options.BlockSize, kvHeads, config.HeadSize, dtype);
        long useful = options.MaxNumSeqs > 0 ? (long)options.MaxNumSeqs * ((maxModelLength + options.BlockSize - 1) / options.BlockSize) : long.MaxValue;
        long device = options.NumBlocks > 0 ? options.NumBlocks
            : options.KvCacheSpaceGiB > 0 ? (long)(options.KvCacheSpaceGiB * (1L << 30) / perBlock)
            : Math.Min(useful, (long)(GC.GetGCMemoryInfo().TotalAvailableMemoryBytes * WorkerOptions.DefaultKvCacheShare / perBlock));
        long swap = options.PreemptionMode == PreemptionMode.Swap ? (long)(options.SwapSpaceGiB * (1L << 30) / perBlock) : 0;
        if (device < 1) throw new ArgumentException($"the KV cache must hold at least one block of {perBlock} bytes");
        return ((int)Math.Min(device, int.MaxValue), (int)Math.Min(swap, int.MaxValue));
    }
}
