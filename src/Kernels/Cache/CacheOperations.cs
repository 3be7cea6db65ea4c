using LlmEngine.Kernels.Native;
using TorchSharp;
using static TorchSharp.torch;

namespace LlmEngine.Kernels.Cache;

/// <summary>
/// Moving keys and values within and between paged caches: a step's new K/V to their slots,
/// whole blocks within a cache (copy-on-write of a shared block), and whole blocks between the
/// device cache and a host swap cache of the same layout (preemption by swapping). Each uses
/// the native operators where they support the cache's device, else TorchSharp indexing.
/// </summary>
public static class CacheOperations
{
    /// <summary>Stores the step's key and value [tokens, kvHeads, headSize] of one layer at their
    /// slots (int64 on the cache's device; a negative slot is a token whose K/V is not kept).</summary>
    public static void WriteKv(PagedKvCache cache, int layer, Tensor key, Tensor value, Tensor slots)
    {
        if (NativeKernels.Supports(cache.Device))
            NativeKernels.WriteKv(key, value, cache.Keys[layer], cache.Values[layer], slots);
        else
            WriteKvWithTorch(cache, layer, key, value, slots);
    }

    /// <summary><see cref="WriteKv"/> with TorchSharp indexing alone: the reference the native
    /// operator is tested against, and the path of devices it does not support.</summary>
    public static void WriteKvWithTorch(PagedKvCache cache, int layer, Tensor key, Tensor value, Tensor slots)
    {
        // The views and converted rows are held in variables while index_copy_ reads them: an
        // unreferenced temporary can be finalized (its native tensor freed) during the call.
        Write(cache.Keys[layer], key);
        Write(cache.Values[layer], value);

        void Write(Tensor layerCache, Tensor rows)
        {
            using var blocks = layerCache.view(-1, cache.KvHeads, cache.HeadSize);
            if (KvCacheDTypes.IsFp8(cache.DType))
            {
                // libtorch's float8 conversion rounds to nearest even but overflows to NaN (e4m3fn) or
                // infinity (e5m2): saturate first, as the native write does. Its CPU index_copy_ has no
                // float8 kernel; index_put_ has.
                double max = KvCacheDTypes.MaxFinite(cache.DType);
                using var clamped = rows.clamp(-max, max);
                using var fp8 = clamped.to(cache.DType);
                blocks.index_put_(fp8, slots);
                return;
            }
            using var converted = rows.dtype == cache.DType ? null : rows.to(cache.DType);
            blocks.index_copy_(0, slots, converted ?? rows);
        }
    }

    /// <summary>Copies blocks (every layer, keys and values) source -> destination within the cache.
    /// No block may be both a source and a destination in one call.</summary>
    public static void CopyBlocks(PagedKvCache cache, IReadOnlyList<(int Source, int Destination)> pairs)
    {
        if (pairs.Count == 0) return;
        using var scope = NewDisposeScope();
        if (NativeKernels.Supports(cache.Device))
        {
            var mapping = Mapping(pairs, cache.Device);
            for (int l = 0; l < cache.NumLayers; l++) NativeKernels.CopyBlocks(cache.Keys[l], cache.Values[l], mapping);
            return;
        }
        var (from, to) = Indices(pairs, cache.Device);
        for (int l = 0; l < cache.NumLayers; l++)
        {
            cache.Keys[l].index_copy_(0, to, cache.Keys[l].index_select(0, from));
            cache.Values[l].index_copy_(0, to, cache.Values[l].index_select(0, from));
        }
    }

    /// <summary>
    /// Copies blocks (every layer, keys and values) from one cache to another of the same layout
    /// but possibly another device and block count: swap out (device -> host) or in (host -> device).
    /// </summary>
    public static void SwapBlocks(PagedKvCache source, PagedKvCache destination, IReadOnlyList<(int Source, int Destination)> pairs)
    {
        if (source.NumLayers != destination.NumLayers || source.BlockSize != destination.BlockSize ||
            source.KvHeads != destination.KvHeads || source.HeadSize != destination.HeadSize || source.DType != destination.DType)
            throw new ArgumentException("swap needs caches of the same layout (layers, block size, heads, head size, dtype)");
        if (pairs.Count == 0) return;
        using var scope = NewDisposeScope();
        bool native = NativeKernels.Supports(source.Device) && NativeKernels.Supports(destination.Device);
        if (native)
        {
            var mapping = Mapping(pairs, CPU);  // read on the host, as the copies are issued from there
            for (int l = 0; l < source.NumLayers; l++)
            {
                NativeKernels.SwapBlocks(source.Keys[l], destination.Keys[l], mapping);
                NativeKernels.SwapBlocks(source.Values[l], destination.Values[l], mapping);
            }
            return;
        }
        var (from, _) = Indices(pairs, source.Device);
        var (_, to) = Indices(pairs, destination.Device);
        for (int l = 0; l < source.NumLayers; l++)
        {
            destination.Keys[l].index_copy_(0, to, source.Keys[l].index_select(0, from).to(destination.Device));
            destination.Values[l].index_copy_(0, to, source.Values[l].index_select(0, from).to(destination.Device));
        }
    }

    private static Tensor Mapping(IReadOnlyList<(int Source, int Destination)> pairs, Device device)
    {
        var flat = new long[pairs.Count * 2];
        for (int i = 0; i < pairs.Count; i++) (flat[2 * i], flat[2 * i + 1]) = (pairs[i].Source, pairs[i].Destination);
        return tensor(flat, dtype: int64, device: device).view(pairs.Count, 2);
    }

    private static (Tensor From, Tensor To) Indices(IReadOnlyList<(int Source, int Destination)> pairs, Device device) =>
        (tensor(pairs.Select(p => (long)p.Source).ToArray(), dtype: int64, device: device),
         tensor(pairs.Select(p => (long)p.Destination).ToArray(), dtype: int64, device: device));
}
