using LlmEngine.Kernels.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace LlmEngine.Kernels.Attention;

/// <summary>
/// The dense reference path: each sequence owns contiguous key and value tensors per layer,
/// sized for the model's whole context, with no paging. Later tests compare the paged engine
/// against it, so it stays as simple as possible.
/// </summary>
public sealed class DenseAttention(int numLayers, int kvHeads, int headSize, int maxPositions, ScalarType dtype, Device device)
    : IAttentionBackend, IDisposable
{
    private readonly Dictionary<int, (Tensor[] Keys, Tensor[] Values)> _caches = new();

    public string Name => "dense";

    public Tensor Forward(int layer, Tensor query, Tensor key, Tensor value, double scale, AttentionBatch batch)
    {
        using var timed = ForwardProfile.Time(ProfileSection.Attention);
        var outputs = new Tensor[batch.NumSequences];
        for (int s = 0; s < batch.NumSequences; s++)
        {
            var cache = CacheOf(batch.SequenceIds[s]);
            int start = batch.QueryStarts[s], end = batch.QueryStarts[s + 1];
            int first = batch.FirstQueryPosition(s), context = batch.ContextLengths[s];
            if (context > maxPositions)
                throw new ArgumentException($"sequence {batch.SequenceIds[s]} exceeds the model's {maxPositions} positions");
            cache.Keys[layer][first..context].copy_(key[start..end]);
            cache.Values[layer][first..context].copy_(value[start..end]);
            using var attended = CausalAttention.Attend(query[start..end], cache.Keys[layer][..context], cache.Values[layer][..context], first, scale);
            outputs[s] = attended.to(query.dtype);
        }
        var result = cat(outputs, 0);
        foreach (var o in outputs) o.Dispose();
        return result;
    }

    /// <summary>Drops a finished sequence's cache.</summary>
    public void Release(int sequenceId)
    {
        if (!_caches.Remove(sequenceId, out var cache)) return;
        foreach (var t in cache.Keys) t.Dispose();
        foreach (var t in cache.Values) t.Dispose();
    }

    private (Tensor[] Keys, Tensor[] Values) CacheOf(int sequenceId)
    {
        if (_caches.TryGetValue(sequenceId, out var cache)) return cache;
        // Created during a forward pass: keep them out of its dispose scope.
        Tensor New() => zeros(new long[] { maxPositions, kvHeads, headSize }, dtype: dtype, device: device).DetachFromDisposeScope();
        cache = (Enumerable.Range(0, numLayers).Select(_ => New()).ToArray(), Enumerable.Range(0, numLayers).Select(_ => New()).ToArray());
        _caches[sequenceId] = cache;
        return cache;
    }

    public void Dispose()
    {
        foreach (var id in _caches.Keys.ToList()) Release(id);
    }
}
