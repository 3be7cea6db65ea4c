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
}
