using LlmEngine.Kernels.Attention;
using LlmEngine.Kernels.Models.Layers;
using TorchSharp;
using static TorchSharp.torch;

namespace LlmEngine.Kernels.Models.Llama;

/// <summary>One LLaMA block: RMSNorm, grouped-query attention with rotary embeddings, RMSNorm,
/// SwiGLU MLP. Q, K and V are one fused projection, gate and up another.</summary>
internal sealed class LlamaDecoderLayer : IDisposable
{
    private readonly ModelConfig _config;
    private readonly int _index;
    private readonly Tensor _inputNorm, _postNorm;
    private readonly LinearWeight _qkv, _output, _gateUp, _down;
    private readonly Tensor? _qkvBias, _outputBias, _gateUpBias, _downBias;

    public LlamaDecoderLayer(ModelConfig config, int index, WeightReader weights)
    {
        _config = config;
        _index = index;
        string p = $"model.layers.{index}.";
        long d = config.HiddenSize, q = config.NumHeads * config.HeadSize, kv = config.KvHeads * config.HeadSize, ffn = config.IntermediateSize;
        _inputNorm = weights.ReadGain(p + "input_layernorm.weight", d);
        _postNorm = weights.ReadGain(p + "post_attention_layernorm.weight", d);
        _qkv = weights.ReadLinear(d, (p + "self_attn.q_proj.weight", q), (p + "self_attn.k_proj.weight", kv), (p + "self_attn.v_proj.weight", kv));
        _output = weights.ReadLinear(p + "self_attn.o_proj.weight", d, q);
        _gateUp = weights.ReadLinear(d, (p + "mlp.gate_proj.weight", ffn), (p + "mlp.up_proj.weight", ffn));
        _down = weights.ReadLinear(p + "mlp.down_proj.weight", d, ffn);
        if (config.AttentionBias)
        {
            _qkvBias = Fused.Rows(weights.ReadBias(p + "self_attn.q_proj.bias", q), weights.ReadBias(p + "self_attn.k_proj.bias", kv), weights.ReadBias(p + "self_attn.v_proj.bias", kv));
            _outputBias = weights.ReadBias(p + "self_attn.o_proj.bias", d);
        }
        if (config.MlpBias)
        {
            _gateUpBias = Fused.Rows(weights.ReadBias(p + "mlp.gate_proj.bias", ffn), weights.ReadBias(p + "mlp.up_proj.bias", ffn));
            _downBias = weights.ReadBias(p + "mlp.down_proj.bias", d);
        }
    }

    /// <summary>Updates the residual stream x [tokens, hidden] in place.</summary>
    public void Forward(Tensor x, RotaryEmbedding rotary, Tensor cos, Tensor sin, AttentionBatch batch, IAttentionBackend attention)
    {
        using var scope = NewDisposeScope();
        long n = x.shape[0], headSize = _config.HeadSize;
        long q = _config.NumHeads * headSize, kv = _config.KvHeads * headSize;
        var qkv = Linear.Apply(Norms.Rms(x, _inputNorm, _config.NormEpsilon), _qkv, _qkvBias);
        var query = rotary.Apply(qkv[.., ..(int)q].view(n, _config.NumHeads, headSize), cos, sin);
        var key = rotary.Apply(qkv[.., (int)q..(int)(q + kv)].view(n, _config.KvHeads, headSize), cos, sin);
        var value = qkv[.., (int)(q + kv)..].reshape(n, _config.KvHeads, headSize);
        var attended = attention.Forward(_index, query, key, value, new AttentionScores(1.0 / Math.Sqrt(headSize)), batch);
        x.add_(Linear.Apply(attended.view(n, q), _output, _outputBias));

        var gateUp = Linear.Apply(Norms.Rms(x, _postNorm, _config.NormEpsilon), _gateUp, _gateUpBias);
        var halves = gateUp.chunk(2, -1);
        x.add_(Linear.Apply(Activations.Apply(_config.Activation, halves[0]).mul_(halves[1]), _down, _downBias));
    }

    public void Dispose()
    {
        foreach (var t in new[] { _inputNorm, _postNorm, _qkvBias, _outputBias, _gateUpBias, _downBias })
            t?.Dispose();
        foreach (var w in new[] { _qkv, _output, _gateUp, _down }) w.Dispose();
    }
}
