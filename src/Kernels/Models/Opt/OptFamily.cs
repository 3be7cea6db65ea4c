using LlmEngine.Kernels.Loading;
using LlmEngine.Kernels.Models.Layers;

namespace LlmEngine.Kernels.Models.Opt;

/// <summary>OPT from Hugging Face directories (OPTForCausalLM): learned positions offset by 2,
/// pre- or post-LayerNorm blocks, optional projection between embedding and hidden width, tied head.</summary>
internal sealed class OptFamily : IModelFamily
{
    public IReadOnlyList<string> Architectures { get; } = ["OPTForCausalLM"];
    public IReadOnlyList<string> ModelTypes { get; } = ["opt"];

    public ModelConfig ReadConfig(HuggingFaceConfig c)
    {
        int d = c.GetInt("hidden_size");
        bool before = c.GetBool("do_layer_norm_before", true);
        bool bias = c.GetBool("enable_bias", true);
        if (!c.GetBool("layer_norm_elementwise_affine", true))
            throw new ModelLoadException($"{c.Path}: layer_norm_elementwise_affine false is not supported");
        return new()
        {
            Architecture = ModelArchitecture.Opt,
            VocabSize = c.GetInt("vocab_size"),
            HiddenSize = d,
            NumLayers = c.GetInt("num_hidden_layers"),
            NumHeads = c.GetInt("num_attention_heads"),
            IntermediateSize = c.GetInt("ffn_dim"),
            MaxPositions = c.GetInt("max_position_embeddings", 2048),
            NormEpsilon = 1e-5, // nn.LayerNorm's default; OPT configs have no field for it
            TieWordEmbeddings = c.GetBool("tie_word_embeddings", true),
            AttentionBias = bias,
            MlpBias = bias,
            LayerNormBefore = before,
            // As OPTDecoder: the final LayerNorm exists only in pre-LN models not fine-tuned before
            // transformers 4.20.1 (metaseq PR 164 removed it there).
            FinalLayerNorm = before && !c.GetBool("_remove_final_layer_norm", false),
            WordEmbedProjectionSize = c.GetInt("word_embed_proj_dim", d),
            Activation = Activations.Check(c.GetString("activation_function", "relu")!, c.Path),
            BosTokenId = c.BosTokenId,
            EosTokenIds = c.EosTokenIds,
        };
    }

    public ICausalLanguageModel Create(ModelConfig config, WeightReader weights) => new OptModel(config, weights);
}
