using LlmEngine.Kernels.Cache;
using LlmEngine.Kernels.Native;
using LlmEngine.Kernels.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace LlmEngine.Kernels.Attention;

/// <summary>
/// Paged attention by the native kernels: <c>llm::write_kv</c> and <c>llm::paged_attention</c> per
/// layer, straight on the cache tensors (no gathering, no padding). On CPU caches both run in one
/// plain call on the batch's arrays (<see cref="NativeKernels.PagedAttentionDirect"/>); elsewhere, or
/// with <c>LLM_ATTENTION_DIRECT=0</c>, two dispatcher calls on the batch's metadata tensors. Prompt
/// chunks and decode tokens of any mix go in the same call.
/// </summary>
internal sealed class NativePagedAttention : IAttentionBackend
{
    private readonly PagedKvCache _cache;

    /// <param name="partitionSize">key positions per work item before a long context is split
    /// over threads; 0 lets the kernel choose</param>
    public NativePagedAttention(PagedKvCache cache, int partitionSize = 0)
    {
        NativeKernels.EnsureAvailable();
        if (!NativeKernels.Supports(cache.Device))
            throw new ArgumentException($"the native kernels do not support device {cache.Device}");
        ArgumentOutOfRangeException.ThrowIfNegative(partitionSize);
        _cache = cache;
        PartitionSize = partitionSize;
    }

    public string Name => "native";

    public PagedKvCache Cache => _cache;

    public int PartitionSize { get; }

    public Tensor Forward(int layer, Tensor query, Tensor key, Tensor value, AttentionScores scores, AttentionBatch batch)
    {
        using var timed = ForwardProfile.Time(ProfileSection.Attention);
        // size(d) rather than shape: a shape read is a new array filled through a callback (~1.5 us).
        var output = empty(new[] { query.size(0), query.size(1), query.size(2) }, dtype: query.dtype, device: _cache.Device);
        if (Direct)
        {
            NativeKernels.PagedAttentionDirect(output, query, _cache.Keys[layer], _cache.Values[layer], batch, scores, PartitionSize, key, value);
            return output;
        }
        CacheOperations.WriteKv(_cache, layer, key, value, batch.SlotMappingTensor(_cache.Device));
        Attend(layer, query, scores, batch, output);
        return output;
    }

    /// <summary>On CPU caches the heads of <paramref name="qkv"/> go to the kernels where they lie
    /// (<see cref="NativeKernels.PagedAttentionDirect(Tensor, Tensor, int, int, int, Tensor, Tensor, AttentionBatch, AttentionScores, int)"/>).</summary>
    public Tensor Forward(int layer, Tensor qkv, int queryHeads, int kvHeads, int headSize, AttentionScores scores, AttentionBatch batch)
    {
        if (!Direct) return IAttentionBackend.ForwardViews(this, layer, qkv, queryHeads, kvHeads, headSize, scores, batch);
        using var timed = ForwardProfile.Time(ProfileSection.Attention);
        // A prompt chunk's output (384 KiB at 128 float32 rows of llama-110m) in recycled memory: in glibc's, its pages
        // were given back and faulted in again layer after layer.
        var output = RecycledTensors.Empty([qkv.size(0), queryHeads, headSize], qkv.dtype);
        NativeKernels.PagedAttentionDirect(output, qkv, queryHeads, kvHeads, headSize, _cache.Keys[layer], _cache.Values[layer], batch, scores, PartitionSize);
        return output;
    }

    // The plain export on CPU caches (NativeKernels.PagedAttentionDirect); the dispatcher elsewhere.
    internal bool Direct => _cache.Device.type == DeviceType.CPU && NativeKernels.DirectAttention;

    /// <summary>
    /// Attention of the batch's queries over what the cache holds (the step's keys and values
    /// must be written already), into <paramref name="output"/> [tokens, queryHeads, headSize].
    /// Query and output may be strided views.
    /// </summary>
    public void Attend(int layer, Tensor query, AttentionScores scores, AttentionBatch batch, Tensor output)
    {
        if (batch.NumSequences == 0 || batch.NumTokens == 0) return;
        var device = _cache.Device;
        if (Direct)
            NativeKernels.PagedAttentionDirect(output, query, _cache.Keys[layer], _cache.Values[layer], batch, scores, PartitionSize);
        else
            NativeKernels.PagedAttention(output, query, _cache.Keys[layer], _cache.Values[layer], batch.BlockTableTensor(device),
                batch.ContextLengthTensor(device), batch.QueryStartTensor(device), scores, batch.MaxContextLength, PartitionSize);
    }
}
