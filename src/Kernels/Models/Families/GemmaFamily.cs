using LlmEngine.Kernels.Loading;
using LlmEngine.Kernels.Models.Decoder;
using LlmEngine.Kernels.Models.Layers;

namespace LlmEngine.Kernels.Models.Families;

/// <summary>Gemma: LLaMA with the embedding times sqrt(hidden), RMSNorm x(1 + w), GeGLU (tanh
/// GeLU), head_dim independent of the width, tied head (the unscaled embedding).</summary>
internal sealed class GemmaFamily : DecoderFamily
{
    public override IReadOnlyList<string> Architectures { get; } = ["GemmaForCausalLM"];
    public override IReadOnlyList<string> ModelTypes { get; } = ["gemma"];

    public override ModelConfig ReadConfig(HuggingFaceConfig c) => ReadGemma(c, ModelArchitecture.Gemma);

    internal static ModelConfig ReadGemma(HuggingFaceConfig c, ModelArchitecture architecture) =>
        DecoderConfig.Read(c, architecture, "hidden_activation", "gelu_pytorch_tanh") with
        {
            TieWordEmbeddings = c.GetBool("tie_word_embeddings", true),
        };

    private protected override NormKind NormKind => NormKind.RmsUnitOffset;
    private protected override bool ScaleEmbedding => true;
}
