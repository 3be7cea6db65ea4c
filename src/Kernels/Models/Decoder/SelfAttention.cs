using LlmEngine.Kernels.Attention;
using LlmEngine.Kernels.Models.Layers;
using TorchSharp;
using static TorchSharp.torch;

namespace LlmEngine.Kernels.Models.Decoder;

/// <summary>
/// Grouped-query self-attention of one layer: one fused projection whose rows are [q | k | v]
/// (with its bias when the family has one), then what the family adds: q, k and v clamped to
/// ±clip (OLMo), RMSNorms over the whole q and k projections (OLMo 2), rotary
/// embeddings on the first rotary dimensions of each head; then attention through the backend
/// with the layer's scores (scale, window, soft cap) and the output projection.
/// </summary>
internal sealed class SelfAttention(ModelConfig config, int layer, LinearWeight qkv, Tensor? qkvBias, LinearWeight output, Tensor? outputBias)
    : IDisposable
{
    private readonly AttentionScores _scores = new(config.Scale, config.WindowOf(layer), config.AttentionSoftCap);

    private double? _clip;
    private Norm? _queryNorm, _keyNorm;

    /// <summary>Clamps q, k and v to ±clip right after the projection (OLMo); null: no clamp.</summary>
    public SelfAttention WithClip(double? clip)
    {
        _clip = clip;
        return this;
    }

    /// <summary>RMSNorms over the whole q and k projections before rotary (OLMo 2); the layer owns them.</summary>
    public SelfAttention WithQueryKeyNorms(Norm query, Norm key)
    {
        (_queryNorm, _keyNorm) = (query, key);
        return this;
    }

    /// <summary>q_proj, k_proj, v_proj and o_proj under <paramref name="prefix"/>, fused.</summary>
    public static SelfAttention ReadSeparate(ModelConfig config, int layer, WeightReader weights, string prefix, bool qkvBias, bool outputBias)
    {
        long d = config.HiddenSize, q = config.NumHeads * config.HeadSize, kv = config.KvHeads * config.HeadSize;
        return new(config, layer,
            weights.ReadLinear(d, (prefix + "q_proj.weight", q), (prefix + "k_proj.weight", kv), (prefix + "v_proj.weight", kv)),
            qkvBias ? Fused.Rows(weights.ReadBias(prefix + "q_proj.bias", q), weights.ReadBias(prefix + "k_proj.bias", kv), weights.ReadBias(prefix + "v_proj.bias", kv)) : null,
            weights.ReadLinear(prefix + "o_proj.weight", d, q),
            outputBias ? weights.ReadBias(prefix + "o_proj.bias", d) : null);
    }

    /// <summary>Query width plus twice the key/value width: the rows of the fused projection.</summary>
    public static long FusedRows(ModelConfig config) => (config.NumHeads + 2L * config.KvHeads) * config.HeadSize;

    /// <returns>the attention block's output [tokens, hidden], before any residual</returns>
    public Tensor Forward(Tensor x, RotaryEmbedding rotary, Tensor cos, Tensor sin, AttentionBatch batch, IAttentionBackend attention)
    {
        using var scope = NewDisposeScope();
        long n = x.shape[0], headSize = config.HeadSize;
        long q = config.NumHeads * headSize, kv = config.KvHeads * headSize;
        var projected = Linear.Apply(x, qkv, qkvBias);
        if (_clip is { } c) projected = projected.clamp(-c, c);
        var queries = projected[.., ..(int)q];
        var keys = projected[.., (int)q..(int)(q + kv)];
        Tensor query, key;
        if (_queryNorm is null && _keyNorm is null && rotary.TryRotateInPlace(projected, config.NumHeads + config.KvHeads, config.HeadSize, cos, sin))
        {
            // Rotated where they lie: q and k are strided views of the projection.
            query = queries.view(n, config.NumHeads, headSize);
            key = keys.view(n, config.KvHeads, headSize);
        }
        else
        {
            if (_queryNorm is not null) queries = _queryNorm.Apply(queries);
            if (_keyNorm is not null) keys = _keyNorm.Apply(keys);
            query = rotary.Apply(queries.reshape(n, config.NumHeads, headSize), cos, sin);
            key = rotary.Apply(keys.reshape(n, config.KvHeads, headSize), cos, sin);
        }
        var value = projected[.., (int)(q + kv)..].reshape(n, config.KvHeads, headSize);
        var attended = attention.Forward(layer, query, key, value, _scores, batch);
        return Linear.Apply(attended.view(n, q), output, outputBias).MoveToOuterDisposeScope();
    }

    public void Dispose()
    {
        foreach (var t in new[] { qkvBias, outputBias }) t?.Dispose();
        qkv.Dispose();
        output.Dispose();
        _queryNorm?.Dispose();
        _keyNorm?.Dispose();
    }
}
