using LlmEngine.Kernels.Loading;

namespace LlmEngine.Kernels.Models.Llama;

/// <summary>LLaMA from Hugging Face directories (half-split rotary) and from llama2.c
/// checkpoints (interleaved rotary, shapes from the 7-int header).</summary>
public sealed class LlamaFamily : IModelFamily
{
    public IReadOnlyList<string> Architectures { get; } = ["LlamaForCausalLM", "MistralForCausalLM"];
    public IReadOnlyList<string> ModelTypes { get; } = ["llama", "mistral"];

    public ModelConfig ReadConfig(HuggingFaceConfig c) => new()
    {
        Architecture = ModelArchitecture.Llama,
        VocabSize = c.GetInt("vocab_size"),
        HiddenSize = c.GetInt("hidden_size"),
        NumLayers = c.GetInt("num_hidden_layers"),
        NumHeads = c.GetInt("num_attention_heads"),
        NumKvHeads = c.GetInt("num_key_value_heads", c.GetInt("num_attention_heads")),
        IntermediateSize = c.GetInt("intermediate_size"),
        MaxPositions = c.GetInt("max_position_embeddings", 2048),
        NormEpsilon = c.GetDouble("rms_norm_eps", 1e-6),
        RopeTheta = c.GetDouble("rope_theta", 10000),
        Rotary = RotaryStyle.HalfSplit,
        RopeScaling = ReadRopeScaling(c),
        TieWordEmbeddings = c.GetBool("tie_word_embeddings", false),
        AttentionBias = c.GetBool("attention_bias", false),
        MlpBias = c.GetBool("mlp_bias", false),
        BosTokenId = c.BosTokenId,
        EosTokenIds = c.EosTokenIds,
    };

    private static RopeScaling? ReadRopeScaling(HuggingFaceConfig c)
    {
        if (c.Json["rope_scaling"] is not System.Text.Json.Nodes.JsonObject s) return null;
        string type = (s["rope_type"] ?? s["type"])?.GetValue<string>() ?? "default";
        if (type == "default") return null;
        if (type is not ("linear" or "dynamic" or "llama3"))
            throw new ModelLoadException($"{c.Path}: rope_scaling type '{type}' is not supported (supported: linear, dynamic, llama3)");
        double Get(string name, double fallback) => s[name] is { } v ? v.GetValue<double>() : fallback;
        return new RopeScaling(type, Get("factor", 1), Get("low_freq_factor", 1), Get("high_freq_factor", 4),
            (int)Get("original_max_position_embeddings", 8192));
    }

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
