using LlmEngine.Kernels.Loading;
using LlmEngine.Kernels.Models.Decoder;
using LlmEngine.Kernels.Models.Layers;

namespace LlmEngine.Kernels.Models.Families;

/// <summary>Gemma 2: Gemma with norms before and after each block, attention scaled by
/// query_pre_attn_scalar^-1/2, attention and final-logit soft-capping, and a sliding window on
/// even layers (odd layers global).</summary>
internal sealed class Gemma2Family : DecoderFamily
{
    public override IReadOnlyList<string> Architectures { get; } = ["Gemma2ForCausalLM"];
    public override IReadOnlyList<string> ModelTypes { get; } = ["gemma2"];

    public override ModelConfig ReadConfig(HuggingFaceConfig c) => GemmaFamily.ReadGemma(c, ModelArchitecture.Gemma2) with
    {
        AttentionScale = 1 / Math.Sqrt(c.GetDouble("query_pre_attn_scalar", c.GetInt("head_dim", 256))),
        AttentionSoftCap = c.GetDouble("attn_logit_softcapping", 0),
        FinalLogitSoftCap = c.GetDouble("final_logit_softcapping", 0),
        SlidingWindows = DecoderConfig.SlidingWindows(c, i => i % 2 == 0),
    };

    private protected override NormKind NormKind => NormKind.RmsUnitOffset;
    private protected override bool ScaleEmbedding => true;

    private protected override DecoderLayer Layer(ModelConfig c, int i, string p, WeightReader w) =>
        new(ResidualLayout.Sandwich, Attention(c, i, p, w), Mlp(c, p, w),
            Norms(c, p, w, "input_layernorm", "post_attention_layernorm", "pre_feedforward_layernorm", "post_feedforward_layernorm"));
}
