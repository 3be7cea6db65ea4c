using LlmEngine.Kernels.Loading;
using LlmEngine.Kernels.Models.Decoder;
using LlmEngine.Kernels.Models.Layers;

namespace LlmEngine.Kernels.Models.Families;

/// <summary>Starcoder2: LayerNorms, biases on every projection (use_bias), a plain tanh-GeLU MLP
/// (c_fc, c_proj), sliding_window on every layer, tied head unless said otherwise.</summary>
internal sealed class Starcoder2Family : DecoderFamily
{
    public override IReadOnlyList<string> Architectures { get; } = ["Starcoder2ForCausalLM"];
    public override IReadOnlyList<string> ModelTypes { get; } = ["starcoder2"];

    public override ModelConfig ReadConfig(HuggingFaceConfig c) => DecoderConfig.Read(c, ModelArchitecture.Starcoder2, defaultActivation: "gelu_pytorch_tanh") with
    {
        NormEpsilon = c.GetDouble("norm_epsilon", 1e-5),
        TieWordEmbeddings = c.GetBool("tie_word_embeddings", true),
        AttentionBias = c.GetBool("use_bias", true),
        MlpBias = c.GetBool("use_bias", true),
        SlidingWindows = DecoderConfig.SlidingWindows(c, _ => true),
    };

    private protected override NormKind NormKind => NormKind.Layer;

    private protected override IFeedForward Mlp(ModelConfig c, string p, WeightReader w) =>
        PlainMlp.Read(w, p + "mlp", "c_fc", "c_proj", c.HiddenSize, c.IntermediateSize, c.Activation, c.MlpBias);
}
