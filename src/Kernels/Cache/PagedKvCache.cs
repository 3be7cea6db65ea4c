using TorchSharp;

namespace LlmEngine.Kernels.Cache;

/// <summary>
/// The KV cache in fixed-size blocks, allocated once. Per layer one key and one value tensor
/// of shape [numBlocks, blockSize, kvHeads, headSize] (the layout of vLLM's flash backend):
/// a flat view [numBlocks * blockSize, kvHeads, headSize] is indexed by slot
/// (block * blockSize + offset), so writing a step's K/V is one index_copy per layer.
/// </summary>
public sealed class PagedKvCache : IDisposable
{
    public PagedKvCache(int numLayers, int numBlocks, int blockSize, int kvHeads, int headSize, torch.ScalarType dtype, torch.Device device)
    {
        NumLayers = numLayers;
        NumBlocks = numBlocks;
        BlockSize = blockSize;
        KvHeads = kvHeads;
        HeadSize = headSize;
        DType = dtype;
        Device = device;
        Keys = new torch.Tensor[numLayers];
        Values = new torch.Tensor[numLayers];
        for (int l = 0; l < numLayers; l++)
        {
            Keys[l] = torch.zeros(new long[] { numBlocks, blockSize, kvHeads, headSize }, dtype: dtype, device: device);
            Values[l] = torch.zeros(new long[] { numBlocks, blockSize, kvHeads, headSize }, dtype: dtype, device: device);
        }
    }

    public int NumLayers { get; }
    public int NumBlocks { get; }
    public int BlockSize { get; }
    public int KvHeads { get; }
    public int HeadSize { get; }
    public torch.ScalarType DType { get; }
    public torch.Device Device { get; }
    public torch.Tensor[] Keys { get; }
    public torch.Tensor[] Values { get; }

    /// <summary>Bytes one block takes over all layers, keys and values.</summary>
    public static long BytesPerBlock(int numLayers, int blockSize, int kvHeads, int headSize, torch.ScalarType dtype) =>
        2L * numLayers * blockSize * kvHeads * headSize * ElementSize(dtype);

    public static int ElementSize(torch.ScalarType dtype) => dtype switch
    {
        torch.ScalarType.Float32 => 4,
        torch.ScalarType.BFloat16 or torch.ScalarType.Float16 => 2,
        KvCacheDTypes.Float8E4M3 or KvCacheDTypes.Float8E5M2 => 1,
        _ => throw new ArgumentException($"unsupported KV cache dtype {dtype}"),
    };

    public void Dispose()
    {
        foreach (var t in Keys) t.Dispose();
        foreach (var t in Values) t.Dispose();
    }
}
