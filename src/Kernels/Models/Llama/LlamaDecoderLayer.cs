using LlmEngine.Kernels.Attention;
using LlmEngine.Kernels.Models.Layers;
using LlmEngine.Kernels.Native;
using LlmEngine.Kernels.Sharding;
using TorchSharp;
using static TorchSharp.torch;

namespace LlmEngine.Kernels.Models.Llama;

/// <summary>One LLaMA block: RMSNorm, grouped-query attention with rotary embeddings, RMSNorm,
/// SwiGLU MLP. Q, K and V are one fused projection, gate and up another.</summary>
internal sealed class LlamaDecoderLayer : IDisposable
{
    private readonly ModelConfig _config;
    private readonly int _index;
    private readonly TensorShard _shard;
    private readonly AttentionHeads _heads;
    private readonly Tensor _inputNorm, _postNorm;
    private readonly LinearWeight _qkv, _output, _gateUp, _down;
    private readonly Tensor? _qkvBias, _outputBias, _gateUpBias, _downBias;
    private readonly DecodeLayer? _fused;

    /// <summary>With a split <see cref="WeightReader.Shard"/>, keeps the rank's heads of q, k, v and
    /// the matching columns of o, and its share of gate/up rows and down columns.</summary>
    public LlamaDecoderLayer(ModelConfig config, int index, WeightReader weights)
    {
        _config = config;
        _index = index;
        _shard = weights.Shard;
        _heads = _shard.Heads(config);
        string p = $"model.layers.{index}.";
        long d = config.HiddenSize, q = config.NumHeads * config.HeadSize, kv = config.KvHeads * config.HeadSize, ffn = config.IntermediateSize;
        var (qRows, kvRows, ffnRows) = (_heads.QueryRows, _heads.KvRows, _shard.Even(ffn));
        Tensor Rows(Tensor full, (long, long) part) => TensorShard.Take(full, 0, part);
        _inputNorm = weights.ReadGain(p + "input_layernorm.weight", d);
        _postNorm = weights.ReadGain(p + "post_attention_layernorm.weight", d);
        if (_shard.IsWhole)
        {
            _qkv = weights.ReadLinear(d, (p + "self_attn.q_proj.weight", q), (p + "self_attn.k_proj.weight", kv), (p + "self_attn.v_proj.weight", kv));
            _output = weights.ReadLinear(p + "self_attn.o_proj.weight", d, q);
            _gateUp = weights.ReadLinear(d, (p + "mlp.gate_proj.weight", ffn), (p + "mlp.up_proj.weight", ffn));
            _down = weights.ReadLinear(p + "mlp.down_proj.weight", d, ffn);
        }
        else
        {
            _qkv = weights.AsLinear(Fused.Rows(Rows(weights.Read(p + "self_attn.q_proj.weight", q, d), qRows),
                Rows(weights.Read(p + "self_attn.k_proj.weight", kv, d), kvRows), Rows(weights.Read(p + "self_attn.v_proj.weight", kv, d), kvRows)));
            _output = weights.AsLinear(TensorShard.Take(weights.Read(p + "self_attn.o_proj.weight", d, q), 1, qRows));
            _gateUp = weights.AsLinear(Fused.Rows(Rows(weights.Read(p + "mlp.gate_proj.weight", ffn, d), ffnRows), Rows(weights.Read(p + "mlp.up_proj.weight", ffn, d), ffnRows)));
            _down = weights.AsLinear(TensorShard.Take(weights.Read(p + "mlp.down_proj.weight", d, ffn), 1, ffnRows));
        }
        if (config.AttentionBias)
        {
            _qkvBias = Fused.Rows(Rows(weights.ReadBias(p + "self_attn.q_proj.bias", q), qRows), Rows(weights.ReadBias(p + "self_attn.k_proj.bias", kv), kvRows),
                Rows(weights.ReadBias(p + "self_attn.v_proj.bias", kv), kvRows));
            _outputBias = weights.ReadBias(p + "self_attn.o_proj.bias", d);
        }
        if (config.MlpBias)
        {
            _gateUpBias = Fused.Rows(Rows(weights.ReadBias(p + "mlp.gate_proj.bias", ffn), ffnRows), Rows(weights.ReadBias(p + "mlp.up_proj.bias", ffn), ffnRows));
            _downBias = weights.ReadBias(p + "mlp.down_proj.bias", d);
        }
        if (_shard.IsWhole && !config.AttentionBias && !config.MlpBias && config.Activation == "silu")
            _fused = DecodeLayer.For(weights.DType, _inputNorm, _postNorm, config.NormEpsilon, _qkv, _output, _gateUp, _down, d,
                _heads.Query, _heads.Kv, config.HeadSize, ffn);
    }

    /// <summary>Updates the residual stream x [tokens, hidden] in place.</summary>
    public void Forward(Tensor x, RotaryEmbedding rotary, Tensor cos, Tensor sin, AttentionBatch batch, IAttentionBackend attention)
    {
        long n = x.size(0), headSize = _config.HeadSize;
        var scores = new AttentionScores(1.0 / Math.Sqrt(headSize));
        // A decode step's few rows: the whole layer in one native call, the same kernels in the same order.
        if (_fused is not null && _fused.TryForward(_index, x, cos, sin, rotary.Half, rotary.Interleaved, batch, attention, scores)) return;
        using var scope = NewDisposeScope();
        long q = _heads.Query * headSize, kv = _heads.Kv * headSize;
        var qkv = Linear.Apply(Norms.Rms(x, _inputNorm, _config.NormEpsilon), _qkv, _qkvBias);
        Tensor attended;
        // A few rows are rotated in place and the backend reads q, k and v where they lie in the projection; more
        // rows are rotated by libtorch, on views (narrow, not an index with ranges: one libtorch call, ~2 us less each).
        if (rotary.TryRotateInPlace(qkv, _heads.Query + _heads.Kv, _config.HeadSize, cos, sin))
            attended = attention.Forward(_index, qkv, _heads.Query, _heads.Kv, (int)headSize, scores, batch);
        else
        {
            var query = rotary.Apply(qkv.narrow(1, 0, q).view(n, _heads.Query, headSize), cos, sin);
            var key = rotary.Apply(qkv.narrow(1, q, kv).view(n, _heads.Kv, headSize), cos, sin);
            var value = qkv.narrow(1, q + kv, kv).reshape(n, _heads.Kv, headSize);
            attended = attention.Forward(_index, query, key, value, scores, batch);
        }
        // The o and down projections add themselves into the residual stream where they can (Linear.TryAddTo);
        // else the norm adds o's product and libtorch the down projection's.
        var heads = attended.view(n, q);
        var normed = _shard.TryRowParallelAdd(x, heads, _output, _outputBias)
            ? Norms.Rms(x, _postNorm, _config.NormEpsilon)
            : Norms.Rms(x, _shard.RowParallel(heads, _output, _outputBias), _postNorm, _config.NormEpsilon, unitOffset: false);
        var hidden = Activations.Gated(_config.Activation, Linear.Apply(normed, _gateUp, _gateUpBias));
        if (!_shard.TryRowParallelAdd(x, hidden, _down, _downBias)) x.add_(_shard.RowParallel(hidden, _down, _downBias));
    }

    public void Dispose()
    {
        foreach (var t in new[] { _inputNorm, _postNorm, _qkvBias, _outputBias, _gateUpBias, _downBias })
            t?.Dispose();
        foreach (var w in new[] { _qkv, _output, _gateUp, _down }) w.Dispose();
    }
}
