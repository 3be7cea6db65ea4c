using LlmEngine.Kernels.Attention;
using LlmEngine.Kernels.Models.Layers;
using LlmEngine.Kernels.Sharding;
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
    private readonly TensorShard _shard;
    private readonly AttentionHeads _heads;
    private readonly Tensor _norm1, _norm1Bias, _qkvBias, _outputBias, _norm2, _norm2Bias, _upBias, _downBias;
    private readonly LinearWeight _qkv, _output, _up, _down;

    public Gpt2Block(ModelConfig config, int index, string prefix, WeightReader weights)
    {
        _config = config;
        _index = index;
        string p = $"{prefix}h.{index}.";
        long d = config.HiddenSize, ffn = config.IntermediateSize;
        _shard = weights.Shard;
        _heads = _shard.Heads(config);
        // c_attn's rows (once transposed) are [q | k | v]: the rank's heads of each.
        var (h0, hn) = _heads.QueryRows;
        (long, long)[] qkvRows = [(h0, hn), (d + h0, hn), (2 * d + h0, hn)];
        var ffnRows = _shard.Even(ffn);
        _norm1 = weights.ReadGain(p + "ln_1.weight", d);
        _norm1Bias = weights.ReadBias(p + "ln_1.bias", d);
        _qkv = ReadConv1D(weights, p + "attn.c_attn.weight", d, 3 * d, 0, qkvRows);
        _qkvBias = TensorShard.Take(weights.ReadBias(p + "attn.c_attn.bias", 3 * d), 0, qkvRows);
        _output = ReadConv1D(weights, p + "attn.c_proj.weight", d, d, 1, (h0, hn));
        _outputBias = weights.ReadBias(p + "attn.c_proj.bias", d);
        _norm2 = weights.ReadGain(p + "ln_2.weight", d);
        _norm2Bias = weights.ReadBias(p + "ln_2.bias", d);
        _up = ReadConv1D(weights, p + "mlp.c_fc.weight", d, ffn, 0, ffnRows);
        _upBias = TensorShard.Take(weights.ReadBias(p + "mlp.c_fc.bias", ffn), 0, ffnRows);
        _down = ReadConv1D(weights, p + "mlp.c_proj.weight", ffn, d, 1, ffnRows);
        _downBias = weights.ReadBias(p + "mlp.c_proj.bias", d);
        // transformers divides the scores by sqrt(head size), then by layer index + 1.
        _scores = new AttentionScores((config.ScaleAttentionWeights ? 1.0 / Math.Sqrt(config.HeadSize) : 1.0)
            / (config.ScaleAttentionByInverseLayerIndex ? index + 1 : 1));
    }

    // GPT-2's Conv1D stores its weight [in, out], the transpose of nn.Linear's [out, in]; the
    // rank keeps the given ranges of the transposed weight along dim.
    private static LinearWeight ReadConv1D(WeightReader weights, string name, long input, long output, int dim, params (long, long)[] parts)
    {
        using var stored = weights.Read(name, input, output);
        return weights.AsLinear(TensorShard.Take(stored.t().contiguous(), dim, parts));
    }

    /// <summary>Updates the residual stream x [tokens, hidden] in place.</summary>
    public void Forward(Tensor x, AttentionBatch batch, IAttentionBackend attention)
    {
        using var scope = NewDisposeScope();
        long n = x.shape[0], headSize = _config.HeadSize;
        int heads = _heads.Query;
        long d = heads * headSize;
        var qkv = Linear.Apply(Norms.Layer(x, _norm1, _norm1Bias, _config.NormEpsilon), _qkv, _qkvBias);
        var query = qkv[.., ..(int)d].view(n, heads, headSize);
        var key = qkv[.., (int)d..(int)(2 * d)].view(n, heads, headSize);
        var value = qkv[.., (int)(2 * d)..].view(n, heads, headSize);
        var attended = attention.Forward(_index, query, key, value, _scores, batch);
        x.add_(_shard.RowParallel(attended.reshape(n, d), _output, _outputBias));

        var hidden = Linear.Apply(Norms.Layer(x, _norm2, _norm2Bias, _config.NormEpsilon), _up, _upBias);
        x.add_(_shard.RowParallel(Activations.Apply(_config.Activation, hidden), _down, _downBias));
    }

    public void Dispose()
    {
        foreach (var t in new[] { _norm1, _norm1Bias, _qkvBias, _outputBias, _norm2, _norm2Bias, _upBias, _downBias })
            t.Dispose();
        foreach (var w in new[] { _qkv, _output, _up, _down }) w.Dispose();
    }
}
