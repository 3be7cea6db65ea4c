using LlmEngine.Kernels.Loading;
using LlmEngine.Kernels.Models.Decoder;
using LlmEngine.Kernels.Models.Layers;

namespace LlmEngine.Kernels.Models.Families;

/// <summary>
/// A family built on <see cref="DecoderModel"/>: its names, its config and its layer. The
/// common layer is LLaMA's (pre-RMSNorm, q/k/v/o projections, gated MLP); a family overrides
/// only what it changes.
/// </summary>
internal abstract class DecoderFamily : IModelFamily
{
    public abstract IReadOnlyList<string> Architectures { get; }
    public abstract IReadOnlyList<string> ModelTypes { get; }
    public abstract ModelConfig ReadConfig(HuggingFaceConfig config);

    private protected virtual DecoderNames Names => DecoderNames.HuggingFace;
    private protected virtual NormKind NormKind => NormKind.Rms;
    private protected virtual bool ScaleEmbedding => false;

    public ICausalLanguageModel Create(ModelConfig config, WeightReader weights) =>
        new DecoderModel(config, weights, Names, NormKind, (i, prefix) => Layer(config, i, prefix, weights), ScaleEmbedding);

    private protected virtual DecoderLayer Layer(ModelConfig c, int i, string p, WeightReader w) =>
        new(ResidualLayout.PreNorm, Attention(c, i, p, w), Mlp(c, p, w), Norms(c, p, w, "input_layernorm", "post_attention_layernorm"));

    private protected virtual SelfAttention Attention(ModelConfig c, int i, string p, WeightReader w) =>
        SelfAttention.ReadSeparate(c, i, w, p + "self_attn.", c.AttentionBias, c.AttentionBias);

    private protected virtual IFeedForward Mlp(ModelConfig c, string p, WeightReader w) =>
        GatedMlp.Read(w, p + "mlp", c.HiddenSize, c.IntermediateSize, c.Activation);

    private protected Norm[] Norms(ModelConfig c, string p, WeightReader w, params string[] names) =>
        names.Select(n => Norm.Read(w, p + n, c.HiddenSize, NormKind, c.NormEpsilon)).ToArray();
}
