using LlmEngine.Kernels.Loading;
using LlmEngine.Kernels.Models.Decoder;
using LlmEngine.Kernels.Models.Layers;

namespace LlmEngine.Kernels.Models.Families;

/// <summary>OLMo 2: RMSNorms on each block's output instead of its input, and q_norm / k_norm
/// (RMSNorms over the whole q and k projections, before rotary).</summary>
internal sealed class Olmo2Family : DecoderFamily
{
    public override IReadOnlyList<string> Architectures { get; } = ["Olmo2ForCausalLM"];
    public override IReadOnlyList<string> ModelTypes { get; } = ["olmo2"];

    public override ModelConfig ReadConfig(HuggingFaceConfig c) => DecoderConfig.Read(c, ModelArchitecture.Olmo2) with
    {
        AttentionBias = c.GetBool("attention_bias", false),
    };

    private protected override DecoderLayer Layer(ModelConfig c, int i, string p, WeightReader w) =>
        new(ResidualLayout.PostNorm, Attention(c, i, p, w), Mlp(c, p, w), Norms(c, p, w, "post_attention_layernorm", "post_feedforward_layernorm"));

    private protected override SelfAttention Attention(ModelConfig c, int i, string p, WeightReader w)
    {
        string a = p + "self_attn.";
        return SelfAttention.ReadSeparate(c, i, w, a, c.AttentionBias, c.AttentionBias).WithQueryKeyNorms(
            Norm.Read(w, a + "q_norm", c.NumHeads * c.HeadSize, NormKind.Rms, c.NormEpsilon),
            Norm.Read(w, a + "k_norm", c.KvHeads * c.HeadSize, NormKind.Rms, c.NormEpsilon));
    }
}
