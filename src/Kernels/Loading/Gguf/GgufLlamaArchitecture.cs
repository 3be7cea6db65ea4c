using LlmEngine.Kernels.Models;
using LlmEngine.Kernels.Models.Llama;

namespace LlmEngine.Kernels.Loading.Gguf;

/// <summary>GGUF's <c>llama</c> architecture (LLaMA 1-3, Mistral, SmolLM, llama2.c conversions): the
/// engine's LLaMA model with half-split rotary, Q and K rows un-permuted back to Hugging Face's order.</summary>
internal sealed class GgufLlamaArchitecture : IGgufArchitecture
{
    public string Name => "llama";

    public ModelConfig ReadConfig(GgufFile file)
    {
        var m = file.Metadata;
        string a = Name;
        int heads = PerModel(file, $"{a}.attention.head_count");
        int kvHeads = m.Has($"{a}.attention.head_count_kv") ? PerModel(file, $"{a}.attention.head_count_kv") : heads;
        int hidden = (int)m.Integer($"{a}.embedding_length");
        int headSize = m.IntegerOrNull($"{a}.attention.key_length") is long k ? (int)k : hidden / Math.Max(heads, 1);
        if (headSize * heads != hidden)
            throw new ModelLoadException($"{file.Path}: attention.key_length {headSize} x {heads} heads differs from embedding_length {hidden}, which this engine's LLaMA does not support");
        if (m.IntegerOrNull($"{a}.rope.dimension_count") is long rotary && rotary != headSize)
            throw new ModelLoadException($"{file.Path}: rope.dimension_count {rotary} is not the head size {headSize} (partial rotary is not supported for llama)");
        if (file.Tensors.ContainsKey("rope_freqs.weight"))
            throw new ModelLoadException($"{file.Path}: rope_freqs.weight (per-frequency rotary factors, as in Llama 3.1's long-context scaling) is not supported yet");
        var embedding = file.Info("token_embd.weight");
        return new ModelConfig
        {
            Architecture = ModelArchitecture.Llama,
            VocabSize = (int)embedding.Shape[0],
            HiddenSize = hidden,
            NumLayers = (int)m.Integer($"{a}.block_count"),
            NumHeads = heads,
            NumKvHeads = kvHeads,
            IntermediateSize = (int)m.Integer($"{a}.feed_forward_length"),
            MaxPositions = (int)m.Integer($"{a}.context_length"),
            NormEpsilon = m.FloatOrNull($"{a}.attention.layer_norm_rms_epsilon") ?? 1e-5,
            RopeTheta = m.FloatOrNull($"{a}.rope.freq_base") ?? 10000,
            Rotary = RotaryStyle.HalfSplit,
            RopeScaling = RopeScaling(file),
            TieWordEmbeddings = !file.Tensors.ContainsKey("output.weight"),
            AttentionBias = file.Tensors.ContainsKey("blk.0.attn_q.bias"),
            MlpBias = file.Tensors.ContainsKey("blk.0.ffn_up.bias"),
        };
    }

    private RopeScaling? RopeScaling(GgufFile file)
    {
        var m = file.Metadata;
        string? type = m.StringOrNull($"{Name}.rope.scaling.type");
        double factor = m.FloatOrNull($"{Name}.rope.scaling.factor") ?? m.FloatOrNull($"{Name}.rope.scale_linear") ?? 1;
        return (type, factor) switch
        {
            (null or "none", 1) => null,
            (null or "linear", _) => new RopeScaling("linear", factor),
            _ => throw new ModelLoadException($"{file.Path}: rope scaling '{type}' is not supported (supported: none, linear)"),
        };
    }

    /// <summary>A per-model count; GGUF allows one per layer, which this engine's LLaMA does not.</summary>
    private static int PerModel(GgufFile file, string key)
    {
        if (file.Metadata.Values.GetValueOrDefault(key) is Array && file.Metadata.IntegerArray(key) is long[] perLayer)
            return perLayer.Distinct().Count() == 1 ? (int)perLayer[0]
                : throw new ModelLoadException($"{file.Path}: {key} differs between layers, which this engine does not support");
        return (int)file.Metadata.Integer(key);
    }

    public IReadOnlyDictionary<string, GgufTensorRef> Tensors(ModelConfig config, GgufFile file)
    {
        var map = new Dictionary<string, GgufTensorRef>(StringComparer.Ordinal)
        {
            ["model.embed_tokens.weight"] = new("token_embd.weight"),
            ["model.norm.weight"] = new("output_norm.weight"),
        };
        if (!config.TieWordEmbeddings) map["lm_head.weight"] = new("output.weight");
        for (int i = 0; i < config.NumLayers; i++)
        {
            string hf = $"model.layers.{i}.", gguf = $"blk.{i}.";
            map[hf + "input_layernorm.weight"] = new(gguf + "attn_norm.weight");
            map[hf + "post_attention_layernorm.weight"] = new(gguf + "ffn_norm.weight");
            foreach (string kind in new[] { "weight", "bias" })
            {
                map[$"{hf}self_attn.q_proj.{kind}"] = new($"{gguf}attn_q.{kind}", config.NumHeads);
                map[$"{hf}self_attn.k_proj.{kind}"] = new($"{gguf}attn_k.{kind}", config.KvHeads);
                map[$"{hf}self_attn.v_proj.{kind}"] = new($"{gguf}attn_v.{kind}");
                map[$"{hf}self_attn.o_proj.{kind}"] = new($"{gguf}attn_output.{kind}");
                map[$"{hf}mlp.gate_proj.{kind}"] = new($"{gguf}ffn_gate.{kind}");
                map[$"{hf}mlp.up_proj.{kind}"] = new($"{gguf}ffn_up.{kind}");
                map[$"{hf}mlp.down_proj.{kind}"] = new($"{gguf}ffn_down.{kind}");
            }
        }
        if (file.Tensors.ContainsKey("blk.0.attn_qkv.weight"))
            throw new ModelLoadException($"{file.Path}: fused attn_qkv tensors are not supported for llama");
        return map.Where(p => file.Tensors.ContainsKey(p.Value.GgufName)).ToDictionary(p => p.Key, p => p.Value, StringComparer.Ordinal);
    }

    public ICausalLanguageModel Create(ModelConfig config, WeightReader weights) => new LlamaModel(config, weights);
}
