using LlmEngine.Kernels.Loading;
using LlmEngine.Kernels.Models.Layers;

namespace LlmEngine.Kernels.Models.Gpt2;

/// <summary>GPT-2 from Hugging Face directories (GPT2LMHeadModel): learned absolute positions,
/// pre-LayerNorm blocks with Conv1D projections, tied head.</summary>
internal sealed class Gpt2Family : IModelFamily
{
    public IReadOnlyList<string> Architectures { get; } = ["GPT2LMHeadModel"];
    public IReadOnlyList<string> ModelTypes { get; } = ["gpt2"];

    public ModelConfig ReadConfig(HuggingFaceConfig c)
    {
        int d = c.GetInt("n_embd"), vocab = c.GetInt("vocab_size");
        return new()
        {
            Architecture = ModelArchitecture.Gpt2,
            VocabSize = vocab,
            HiddenSize = d,
            NumLayers = c.GetInt("n_layer"),
            NumHeads = c.GetInt("n_head"),
            IntermediateSize = c.GetInt("n_inner", 4 * d),
            MaxPositions = c.GetInt("n_positions"),
            NormEpsilon = c.GetDouble("layer_norm_epsilon", 1e-5),
            TieWordEmbeddings = c.GetBool("tie_word_embeddings", true),
            AttentionBias = true,
            MlpBias = true,
            ScaleAttentionWeights = c.GetBool("scale_attn_weights", true),
            ScaleAttentionByInverseLayerIndex = c.GetBool("scale_attn_by_inverse_layer_idx", false),
            Activation = Activations.Check(c.GetString("activation_function", "gelu_new")!, c.Path),
            // GPT-2 configs keep <|endoftext|> = 50256 even for models with a smaller vocabulary
            // (as the tiny test model has). Such an id can never be generated, so it ends nothing;
            // dropped here, it cannot index the embedding or the logits (as a min_tokens ban would).
            BosTokenId = c.BosTokenId < vocab ? c.BosTokenId : null,
            EosTokenIds = c.EosTokenIds.Where(id => id < vocab).ToList(),
        };
    }

    public ICausalLanguageModel Create(ModelConfig config, WeightReader weights) => new Gpt2Model(config, weights);
}
