using LlmEngine.Kernels.Attention;
using LlmEngine.Kernels.Models.Layers;
using TorchSharp;
using static TorchSharp.torch;

namespace LlmEngine.Kernels.Models.Gpt2;

/// <summary>One GPT-2 block: LayerNorm, multi-head attention from the fused c_attn projection,
/// LayerNorm, MLP (c_fc, activation, c_proj). Every projection has a bias.</summary>
internal sealed class Gpt2Block : IDisposable
{
    private readonly ModelConfig _config;
    private readonly int _index;
    private readonly AttentionScores _scores;
    private readonly Tensor _norm1, _norm1Bias, _qkvBias, _outputBias, _norm2, _norm2Bias, _upBias, _downBias;
    private readonly LinearWeight _qkv, _output, _up, _down;

    public Gpt2Block(ModelConfig config, int index, string prefix, WeightReader weights)
    {
        _config = config;
        _index = index;
        string p = $"{prefix}h.{index}.";
        long d = config.HiddenSize, ffn = config.IntermediateSize;
        _norm1 = weights.ReadGain(p + "ln_1.weight", d);
        _norm1Bias = weights.ReadBias(p + "ln_1.bias", d);
        _qkv = ReadConv1D(weights, p + "attn.c_attn.weight", d, 3 * d);
        _qkvBias = weights.ReadBias(p + "attn.c_attn.bias", 3 * d);
        _output = ReadConv1D(weights, p + "attn.c_proj.weight", d, d);
        _outputBias = weights.ReadBias(p + "attn.c_proj.bias", d);
        _norm2 = weights.ReadGain(p + "ln_2.weight", d);
        _norm2Bias = weights.ReadBias(p + "ln_2.bias", d);
        _up = ReadConv1D(weights, p + "mlp.c_fc.weight", d, ffn);
        _upBias = weights.ReadBias(p + "mlp.c_fc.bias", ffn);
        _down = ReadConv1D(weights, p + "mlp.c_proj.weight", ffn, d);
        _downBias = weights.ReadBias(p + "mlp.c_proj.bias", d);
        // transformers divides the scores by sqrt(head size), then by layer index + 1.
        _scores = new AttentionScores((config.ScaleAttentionWeights ? 1.0 / Math.Sqrt(config.HeadSize) : 1.0)
            / (config.ScaleAttentionByInverseLayerIndex ? index + 1 : 1));
    }

    // GPT-2's Conv1D stores its weight [in, out], the transpose of nn.Linear's [out, in].
    private static LinearWeight ReadConv1D(WeightReader weights, string name, long input, long output)
    {
        using var stored = weights.Read(name, input, output);
        return weights.AsLinear(stored.t().contiguous());
    }

    /// <summary>Updates the residual stream x [tokens, hidden] in place.</summary>
    public void Forward(Tensor x, AttentionBatch batch, IAttentionBackend attention)
    {
        using var scope = NewDisposeScope();
        long n = x.shape[0], d = _config.HiddenSize, headSize = _config.HeadSize;
        int heads = _config.NumHeads;
        var qkv = Linear.Apply(Norms.Layer(x, _norm1, _norm1Bias, _config.NormEpsilon), _qkv, _qkvBias);
        var query = qkv[.., ..(int)d].view(n, heads, headSize);
        var key = qkv[.., (int)d..(int)(2 * d)].view(n, heads, headSize);
        var value = qkv[.., (int)(2 * d)..].view(n, heads, headSize);
        var attended = attention.Forward(_index, query, key, value, _scores, batch);
        x.add_(Linear.Apply(attended.reshape(n, d), _output, _outputBias));

        var hidden = Linear.Apply(Norms.Layer(x, _norm2, _norm2Bias, _config.NormEpsilon), _up, _upBias);
        x.add_(Linear.Apply(Activations.Apply(_config.Activation, hidden), _down, _downBias));
    }

    public void Dispose()
    {
        foreach (var t in new[] { _norm1, _norm1Bias, _qkvBias, _outputBias, _norm2, _norm2Bias, _upBias, _downBias })
            t.Dispose();
        foreach (var w in new[] { _qkv, _output, _up, _down }) w.Dispose();
    }
}
