using TorchSharp;

namespace LlmEngine.Kernels.Attention;

/// <summary>
/// Causal attention over a flattened batch with a KV cache. For each layer the model hands
/// over the step's new queries, keys and values; the backend stores the keys and values in
/// its cache, then returns every query token's attention output over its own sequence's
/// cached context (grouped-query: query head h reads key/value head h / (Hq / Hkv)).
/// Backends: the dense reference (contiguous per-sequence cache), paged attention composed of
/// TorchSharp operations, and the native paged kernel.
/// </summary>
public interface IAttentionBackend
{
    string Name { get; }

    /// <param name="query">[tokens, queryHeads, headSize]</param>
    /// <param name="key">[tokens, kvHeads, headSize]</param>
    /// <param name="value">[tokens, kvHeads, headSize]</param>
    /// <param name="scores">scale of q·k before softmax (1/sqrt(headSize) for most models), soft cap and sliding window</param>
    /// <returns>[tokens, queryHeads, headSize] in the query's dtype</returns>
    torch.Tensor Forward(int layer, torch.Tensor query, torch.Tensor key, torch.Tensor value, AttentionScores scores, AttentionBatch batch);

    /// <summary><see cref="Forward(int, torch.Tensor, torch.Tensor, torch.Tensor, AttentionScores, AttentionBatch)"/> on the
    /// heads of a fused projection: <paramref name="qkv"/> [tokens, (queryHeads + 2 kvHeads) · headSize], each row
    /// q, k and v side by side (row stride free, columns contiguous). A backend may read the heads where they lie,
    /// without a view of each (the native one at one sequence: ~5 us of narrows and views a layer).</summary>
    torch.Tensor Forward(int layer, torch.Tensor qkv, int queryHeads, int kvHeads, int headSize, AttentionScores scores, AttentionBatch batch) =>
        ForwardViews(this, layer, qkv, queryHeads, kvHeads, headSize, scores, batch);

    /// <summary>The fused projection's heads as views, through the backend's per-tensor Forward.</summary>
    static torch.Tensor ForwardViews(IAttentionBackend backend, int layer, torch.Tensor qkv, int queryHeads, int kvHeads, int headSize,
        AttentionScores scores, AttentionBatch batch)
    {
        long n = qkv.size(0), q = queryHeads * headSize, kv = kvHeads * headSize;
        // The narrowed columns held in variables: an unreferenced temporary could be freed by its finalizer mid-call.
        using var queryColumns = qkv.narrow(1, 0, q);
        using var keyColumns = qkv.narrow(1, q, kv);
        using var valueColumns = qkv.narrow(1, q + kv, kv);
        using var query = queryColumns.view(n, queryHeads, headSize);
        using var key = keyColumns.view(n, kvHeads, headSize);
        using var value = valueColumns.view(n, kvHeads, headSize);
        return backend.Forward(layer, query, key, value, scores, batch);
    }
}
