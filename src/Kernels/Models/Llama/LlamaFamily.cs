using LlmEngine.Kernels.Loading;
using LlmEngine.Kernels.Models.Decoder;

namespace LlmEngine.Kernels.Models.Llama;

/// <summary>LLaMA from Hugging Face directories (half-split rotary) and from llama2.c
/// checkpoints (interleaved rotary, shapes from the 7-int header).</summary>
internal sealed class LlamaFamily : IModelFamily
{
    public IReadOnlyList<string> Architectures { get; } = ["LlamaForCausalLM"];
    public IReadOnlyList<string> ModelTypes { get; } = ["llama"];

    public ModelConfig ReadConfig(HuggingFaceConfig c) => DecoderConfig.Read(c, ModelArchitecture.Llama) with
    {
        AttentionBias = c.GetBool("attention_bias", false),
        MlpBias = c.GetBool("mlp_bias", false),
    };

    /// <summary>The config a llama2.c header implies: RMSNorm epsilon 1e-5, interleaved rotary,
    /// BOS id 1 ends generation, as in llama2.c's own runner (EOS, id 2, does not).</summary>
    public static ModelConfig FromLlama2c(Llama2cHeader h) => new()
    {
        Architecture = ModelArchitecture.Llama,
        VocabSize = h.VocabSize,
        HiddenSize = h.Dim,
        NumLayers = h.NumLayers,
        NumHeads = h.NumHeads,
        NumKvHeads = h.NumKvHeads,
        IntermediateSize = h.HiddenDim,
        MaxPositions = h.SeqLen,
        NormEpsilon = 1e-5,
        Rotary = RotaryStyle.Interleaved,
        TieWordEmbeddings = h.SharedClassifier,
        BosTokenId = 1,
        EosTokenIds = [1],
    };

    public ICausalLanguageModel Create(ModelConfig config, WeightReader weights) => new LlamaModel(config, weights);
}
