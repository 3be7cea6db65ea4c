using LlmEngine.Kernels.Loading;
using LlmEngine.Kernels.Models.Decoder;
using LlmEngine.Kernels.Models.Layers;
using TorchSharp;

namespace LlmEngine.Kernels.Models.Families;

/// <summary>GPT-NeoX (Pythia): LayerNorms and biases, query_key_value fused per head (each head's
/// rows are its q | k | v; regrouped at load into [q | k | v]), rotary on the first rotary_pct of
/// each head, erf GeLU MLP, parallel residual unless use_parallel_residual is false, embed_out head.</summary>
internal sealed class GptNeoXFamily : DecoderFamily
{
    public override IReadOnlyList<string> Architectures { get; } = ["GPTNeoXForCausalLM"];
    public override IReadOnlyList<string> ModelTypes { get; } = ["gpt_neox"];

    public override ModelConfig ReadConfig(HuggingFaceConfig c) => DecoderConfig.Read(c, ModelArchitecture.GptNeoX, defaultActivation: "gelu") with
    {
        NumKvHeads = c.GetInt("num_attention_heads"),
        NormEpsilon = c.GetDouble("layer_norm_eps", 1e-5),
        RopeTheta = c.GetDouble("rope_theta", c.GetDouble("rotary_emb_base", 10000)),
        RotaryFraction = c.GetDouble("partial_rotary_factor", c.GetDouble("rotary_pct", 0.25)),
        AttentionBias = c.GetBool("attention_bias", true),
        ParallelResidual = c.GetBool("use_parallel_residual", true),
    };

    private protected override DecoderNames Names { get; } = new("gpt_neox.embed_in.weight", "gpt_neox.layers.", "gpt_neox.final_layer_norm", "embed_out.weight");
    private protected override NormKind NormKind => NormKind.Layer;

    private protected override DecoderLayer Layer(ModelConfig c, int i, string p, WeightReader w) =>
        new(c.ParallelResidual ? ResidualLayout.Parallel : ResidualLayout.PreNorm, Attention(c, i, p, w), Mlp(c, p, w),
            Norms(c, p, w, "input_layernorm", "post_attention_layernorm"));

    private protected override SelfAttention Attention(ModelConfig c, int i, string p, WeightReader w)
    {
        long d = c.HiddenSize, rows = SelfAttention.FusedRows(c);
        var qkv = Regroup(w.Read(p + "attention.query_key_value.weight", rows, d), c);
        var bias = c.AttentionBias ? Regroup(w.ReadBias(p + "attention.query_key_value.bias", rows), c) : null;
        return new(c, i, w.AsLinear(qkv), bias, w.AsLinear(w.Read(p + "attention.dense.weight", d, d)), c.AttentionBias ? w.ReadBias(p + "attention.dense.bias", d) : null);
    }

    // [heads, (q|k|v), headSize, ...] -> [(q|k|v), heads, headSize, ...]
    private static torch.Tensor Regroup(torch.Tensor perHead, ModelConfig c)
    {
        using var scope = torch.NewDisposeScope();
        var regrouped = perHead.view([c.NumHeads, 3, c.HeadSize, .. perHead.shape[1..]]).transpose(0, 1)
            .reshape(perHead.shape).contiguous().MoveToOuterDisposeScope();
        perHead.Dispose();
        return regrouped;
    }

    private protected override IFeedForward Mlp(ModelConfig c, string p, WeightReader w) =>
        PlainMlp.Read(w, p + "mlp", "dense_h_to_4h", "dense_4h_to_h", c.HiddenSize, c.IntermediateSize, c.Activation, bias: true);
}
