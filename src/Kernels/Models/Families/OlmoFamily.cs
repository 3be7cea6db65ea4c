using LlmEngine.Kernels.Loading;
using LlmEngine.Kernels.Models.Decoder;
using LlmEngine.Kernels.Models.Layers;

namespace LlmEngine.Kernels.Models.Families;

/// <summary>OLMo: LLaMA with LayerNorms without parameters (epsilon 1e-5) and q, k, v clamped to
/// ±clip_qkv right after the projection.</summary>
internal sealed class OlmoFamily : DecoderFamily
{
    public override IReadOnlyList<string> Architectures { get; } = ["OlmoForCausalLM"];
    public override IReadOnlyList<string> ModelTypes { get; } = ["olmo"];

    public override ModelConfig ReadConfig(HuggingFaceConfig c) => DecoderConfig.Read(c, ModelArchitecture.Olmo) with
    {
        NormEpsilon = 1e-5,
        AttentionBias = c.GetBool("attention_bias", false),
        ClipQkv = c.Has("clip_qkv") ? c.GetDouble("clip_qkv") : null,
    };

    private protected override NormKind NormKind => NormKind.LayerWithoutParameters;

    private protected override SelfAttention Attention(ModelConfig c, int i, string p, WeightReader w) =>
        SelfAttention.ReadSeparate(c, i, w, p + "self_attn.", c.AttentionBias, c.AttentionBias).WithClip(c.ClipQkv);
}
