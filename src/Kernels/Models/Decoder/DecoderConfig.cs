using System.Text.Json.Nodes;
using LlmEngine.Kernels.Loading;
using LlmEngine.Kernels.Models.Layers;

namespace LlmEngine.Kernels.Models.Decoder;

/// <summary>The config.json fields that LLaMA-like families share, read once; a family file
/// adds its own with <c>with { ... }</c>.</summary>
internal static class DecoderConfig
{
    public static ModelConfig Read(HuggingFaceConfig c, ModelArchitecture architecture, string activationField = "hidden_act", string defaultActivation = "silu") => new()
    {
        Architecture = architecture,
        VocabSize = c.GetInt("vocab_size"),
        HiddenSize = c.GetInt("hidden_size"),
        NumLayers = c.GetInt("num_hidden_layers"),
        NumHeads = c.GetInt("num_attention_heads"),
        NumKvHeads = c.GetInt("num_key_value_heads", c.GetInt("num_attention_heads")),
        HeadDimension = c.GetInt("head_dim", 0),
        IntermediateSize = c.GetInt("intermediate_size"),
        MaxPositions = c.GetInt("max_position_embeddings", 2048),
        NormEpsilon = c.GetDouble("rms_norm_eps", 1e-6),
        RopeTheta = c.GetDouble("rope_theta", 10000),
        Rotary = RotaryStyle.HalfSplit,
        RopeScaling = ReadRopeScaling(c),
        TieWordEmbeddings = c.GetBool("tie_word_embeddings", false),
        Activation = Activations.Check(c.GetString(activationField, defaultActivation)!, c.Path),
        BosTokenId = c.BosTokenId,
        EosTokenIds = c.EosTokenIds,
    };

    /// <summary>sliding_window on the layers <paramref name="windowed"/> picks, or none when the
    /// config sets no window.</summary>
    public static IReadOnlyList<int> SlidingWindows(HuggingFaceConfig c, Func<int, bool> windowed)
    {
        int window = c.GetInt("sliding_window", 0);
        if (window <= 0) return [];
        return Enumerable.Range(0, c.GetInt("num_hidden_layers")).Select(i => windowed(i) ? window : 0).ToArray();
    }

    /// <summary>rope_scaling: null for none or "default"; a load error for a type no family implements.</summary>
    public static RopeScaling? ReadRopeScaling(HuggingFaceConfig c)
    {
        if (c.Json["rope_scaling"] is not JsonObject s) return null;
        string type = (s["rope_type"] ?? s["type"])?.GetValue<string>() ?? "default";
        if (type == "default") return null;
        if (type is not ("linear" or "dynamic" or "llama3" or "longrope"))
            throw new ModelLoadException($"{c.Path}: rope_scaling type '{type}' is not supported (supported: linear, dynamic, llama3, longrope)");
        double Get(string name, double fallback) => s[name] is { } v ? v.GetValue<double>() : fallback;
        int original = (int)Get("original_max_position_embeddings", c.GetInt("original_max_position_embeddings", 8192));
        var scaling = new RopeScaling(type, Get("factor", 1), Get("low_freq_factor", 1), Get("high_freq_factor", 4), original);
        if (type != "longrope") return scaling;
        double factor = c.GetInt("max_position_embeddings", original) / (double)original;
        return scaling with
        {
            ShortFactors = Factors(c, s, "short_factor"),
            LongFactors = Factors(c, s, "long_factor"),
            // transformers' default: sqrt(1 + ln(factor) / ln(original)) when the context is extended.
            AttentionFactor = Get("attention_factor", factor <= 1 ? 1 : Math.Sqrt(1 + Math.Log(factor) / Math.Log(original))),
        };
    }

    private static IReadOnlyList<double> Factors(HuggingFaceConfig c, JsonObject s, string name) =>
        s[name] is JsonArray a && a.All(v => v is JsonValue)
            ? a.Select(v => v!.GetValue<double>()).ToArray()
            : throw new ModelLoadException($"{c.Path}: rope_scaling longrope needs '{name}' (a list of numbers)");
}
