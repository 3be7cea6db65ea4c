using LlmEngine.Kernels.Cache;
using LlmEngine.Kernels.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace LlmEngine.Kernels.Attention;

/// <summary>
/// Paged attention composed of TorchSharp operations: write the step's keys and values at
/// their slots, then for each sequence gather its blocks through the block table and attend.
/// Decode tokens (one query per sequence) are attended in one padded batch; prompt chunks one
/// sequence at a time. The native kernel replaces this; this stays as its reference.
/// </summary>
internal sealed class TorchPagedAttention(PagedKvCache cache) : IAttentionBackend
{
    public string Name => "torch";

    public PagedKvCache Cache => cache;

    public Tensor Forward(int layer, Tensor query, Tensor key, Tensor value, AttentionScores scores, AttentionBatch batch)
    {
        using var timed = ForwardProfile.Time(ProfileSection.Attention);
        using var scope = NewDisposeScope();
        CacheOperations.WriteKvWithTorch(cache, layer, key, value, batch.SlotMappingTensor(cache.Device));
        var output = empty_like(query);
        var decodes = new List<int>();
        for (int s = 0; s < batch.NumSequences; s++)
        {
            if (batch.QueryLength(s) == 1) { decodes.Add(s); continue; }
            int start = batch.QueryStarts[s], end = batch.QueryStarts[s + 1];
            var (keys, values) = Gather(layer, batch.BlockTables[s], batch.ContextLengths[s]);
            output[start..end] = CausalAttention.Attend(query[start..end], keys, values, batch.FirstQueryPosition(s), scores).to(query.dtype);
        }
        if (decodes.Count > 0) AttendDecodes(layer, query, scores, batch, decodes, output);
        return output.MoveToOuterDisposeScope();
    }

    private (Tensor Keys, Tensor Values) Gather(int layer, int[] blockTable, int context)
    {
        int blocks = (context + cache.BlockSize - 1) / cache.BlockSize;
        var table = tensor(blockTable[..blocks], dtype: int64, device: cache.Device);
        var keys = cache.Keys[layer].index_select(0, table).view(-1, cache.KvHeads, cache.HeadSize)[..context];
        var values = cache.Values[layer].index_select(0, table).view(-1, cache.KvHeads, cache.HeadSize)[..context];
        return (keys, values);
    }

    // One query per sequence: pad every context to the longest and mask the tail (and what lies
    // before a sliding window).
    private void AttendDecodes(int layer, Tensor query, AttentionScores scores, AttentionBatch batch, List<int> decodes, Tensor output)
    {
        int maxBlocks = decodes.Max(s => (batch.ContextLengths[s] + cache.BlockSize - 1) / cache.BlockSize);
        var tableData = new long[decodes.Count * maxBlocks];
        var rows = new long[decodes.Count];
        var lengths = new long[decodes.Count];
        for (int i = 0; i < decodes.Count; i++)
        {
            int s = decodes[i];
            int blocks = (batch.ContextLengths[s] + cache.BlockSize - 1) / cache.BlockSize;
            for (int b = 0; b < blocks; b++) tableData[i * maxBlocks + b] = batch.BlockTables[s][b];
            rows[i] = batch.QueryStarts[s];
            lengths[i] = batch.ContextLengths[s];
        }
        long n = decodes.Count, heads = query.shape[1], d = cache.HeadSize, kvHeads = cache.KvHeads;
        long group = heads / kvHeads, span = (long)maxBlocks * cache.BlockSize;
        var table = tensor(tableData, dtype: int64, device: cache.Device).view(-1);
        var rowIndex = tensor(rows, dtype: int64, device: cache.Device);
        var keys = cache.Keys[layer].index_select(0, table).view(n, span, kvHeads, d).to(float32);
        var values = cache.Values[layer].index_select(0, table).view(n, span, kvHeads, d).to(float32);
        var q = query.index_select(0, rowIndex).to(float32).view(n, kvHeads, group, d);           // [n, Hkv, G, D]
        var weights = CausalAttention.SoftCap(matmul(q, keys.permute(0, 2, 3, 1)).mul_(scores.Scale), scores.SoftCap); // [n, Hkv, G, T]
        var keyPositions = arange(span, dtype: int64, device: cache.Device).unsqueeze(0);
        var contextLengths = tensor(lengths, dtype: int64, device: cache.Device).unsqueeze(1);
        var hidden = keyPositions.ge(contextLengths);                                            // [n, T]: past the end
        if (scores.Window > 0) hidden.logical_or_(keyPositions.lt(contextLengths - scores.Window));
        weights.masked_fill_(hidden.view(n, 1, 1, span), double.NegativeInfinity);
        var attended = matmul(weights.softmax(-1), values.permute(0, 2, 1, 3));                  // [n, Hkv, G, D]
        output.index_copy_(0, rowIndex, attended.reshape(n, heads, d).to(output.dtype));
    }
}
