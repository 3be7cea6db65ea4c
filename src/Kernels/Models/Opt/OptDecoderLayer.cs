using LlmEngine.Kernels.Attention;
using LlmEngine.Kernels.Models.Layers;
using LlmEngine.Kernels.Sharding;
using TorchSharp;
using static TorchSharp.torch;

namespace LlmEngine.Kernels.Models.Opt;

/// <summary>
/// One OPT layer: multi-head attention (q, k, v fused into one projection) and an fc1/fc2 MLP,
/// each with a residual and a LayerNorm that comes before it (pre-LN, most OPT sizes) or
/// after the residual add (post-LN, opt-350m), as do_layer_norm_before says.
/// </summary>
internal sealed class OptDecoderLayer : IDisposable
{
    private readonly ModelConfig _config;
    private readonly int _index;
    private readonly TensorShard _shard;
    private readonly AttentionHeads _heads;
    private readonly Tensor _attentionNorm, _attentionNormBias, _mlpNorm, _mlpNormBias;
    private readonly LinearWeight _qkv, _output, _up, _down;
    private readonly Tensor? _qkvBias, _outputBias, _upBias, _downBias;

    public OptDecoderLayer(ModelConfig config, int index, string prefix, WeightReader weights)
    {
        _config = config;
        _index = index;
        string p = $"{prefix}layers.{index}.";
        long d = config.HiddenSize, ffn = config.IntermediateSize;
        _shard = weights.Shard;
        _heads = _shard.Heads(config);
        var (heads, ffnRows) = (_heads.QueryRows, _shard.Even(ffn));
        Tensor Rows(Tensor full, (long, long) part) => TensorShard.Take(full, 0, part);
        _attentionNorm = weights.ReadGain(p + "self_attn_layer_norm.weight", d);
        _attentionNormBias = weights.ReadBias(p + "self_attn_layer_norm.bias", d);
        _qkv = weights.AsLinear(Fuse(Rows(weights.Read(p + "self_attn.q_proj.weight", d, d), heads), Rows(weights.Read(p + "self_attn.k_proj.weight", d, d), heads),
            Rows(weights.Read(p + "self_attn.v_proj.weight", d, d), heads)));
        _output = weights.AsLinear(TensorShard.Take(weights.Read(p + "self_attn.out_proj.weight", d, d), 1, heads));
        _mlpNorm = weights.ReadGain(p + "final_layer_norm.weight", d);
        _mlpNormBias = weights.ReadBias(p + "final_layer_norm.bias", d);
        _up = weights.AsLinear(Rows(weights.Read(p + "fc1.weight", ffn, d), ffnRows));
        _down = weights.AsLinear(TensorShard.Take(weights.Read(p + "fc2.weight", d, ffn), 1, ffnRows));
        if (config.AttentionBias)
        {
            _qkvBias = Fuse(Rows(weights.ReadBias(p + "self_attn.q_proj.bias", d), heads), Rows(weights.ReadBias(p + "self_attn.k_proj.bias", d), heads),
                Rows(weights.ReadBias(p + "self_attn.v_proj.bias", d), heads));
            _outputBias = weights.ReadBias(p + "self_attn.out_proj.bias", d);
        }
        if (config.MlpBias)
        {
            _upBias = Rows(weights.ReadBias(p + "fc1.bias", ffn), ffnRows);
            _downBias = weights.ReadBias(p + "fc2.bias", d);
        }
    }

    private static Tensor Fuse(params Tensor[] parts)
    {
        var fused = cat(parts, 0).contiguous();
        foreach (var part in parts) part.Dispose();
        return fused;
    }

    /// <summary>Updates the residual stream x [tokens, hidden] in place.</summary>
    public void Forward(Tensor x, AttentionBatch batch, IAttentionBackend attention)
    {
        using var scope = NewDisposeScope();
        long n = x.shape[0], headSize = _config.HeadSize;
        int heads = _heads.Query;
        long d = heads * headSize;
        bool before = _config.LayerNormBefore;
        double eps = _config.NormEpsilon;

        var qkv = Linear.Apply(before ? Norms.Layer(x, _attentionNorm, _attentionNormBias, eps) : x, _qkv, _qkvBias);
        var query = qkv[.., ..(int)d].view(n, heads, headSize);
        var key = qkv[.., (int)d..(int)(2 * d)].view(n, heads, headSize);
        var value = qkv[.., (int)(2 * d)..].view(n, heads, headSize);
        // OPTAttention multiplies the query by head_dim^-0.5; the backend scales q·k instead.
        var attended = attention.Forward(_index, query, key, value, new AttentionScores(1.0 / Math.Sqrt(headSize)), batch);
        x.add_(_shard.RowParallel(attended.reshape(n, d), _output, _outputBias));
        if (!before) x.copy_(Norms.Layer(x, _attentionNorm, _attentionNormBias, eps));

        var hidden = Linear.Apply(before ? Norms.Layer(x, _mlpNorm, _mlpNormBias, eps) : x, _up, _upBias);
        x.add_(_shard.RowParallel(Activations.Apply(_config.Activation, hidden), _down, _downBias));
        if (!before) x.copy_(Norms.Layer(x, _mlpNorm, _mlpNormBias, eps));
    }

    public void Dispose()
    {
        foreach (var t in new[] { _attentionNorm, _attentionNormBias, _mlpNorm, _mlpNormBias, _qkvBias, _outputBias, _upBias, _downBias })
            t?.Dispose();
        foreach (var w in new[] { _qkv, _output, _up, _down }) w.Dispose();
    }
}
