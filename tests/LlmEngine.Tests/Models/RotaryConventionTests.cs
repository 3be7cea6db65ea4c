using LlmEngine.Kernels.Attention;
using LlmEngine.Kernels.Loading;
using LlmEngine.Kernels.Models;
using LlmEngine.Tests.Loading;
using TorchSharp;
using static TorchSharp.torch;

namespace LlmEngine.Tests.Models;

/// <summary>One random LLaMA written as a llama2.c checkpoint (interleaved rotary) and as a Hugging
/// Face directory (half-split rotary, q/k rows permuted as the conversion scripts do) loads to
/// the same logits.</summary>
public class RotaryConventionTests
{
    private static readonly Llama2cHeader Header = new(Dim: 48, HiddenDim: 96, NumLayers: 2, NumHeads: 6, NumKvHeads: 2, VocabSize: 97, SeqLen: 64, SharedClassifier: false);

    [Fact]
    public void Llama2cAndHuggingFaceCopiesGiveTheSameLogits()
    {
        using var temporaries = torch.NewDisposeScope();
        using var dir = new TempDir();
        var weights = RandomWeights();
        Llama2cWriter.Write(dir.File("model.bin"), Header, weights);
        var hfDir = Directory.CreateDirectory(dir.File("hf")).FullName;
        SafetensorsWriter.Write(Path.Combine(hfDir, "model.safetensors"), ToHuggingFace(weights));
        File.WriteAllText(Path.Combine(hfDir, "config.json"), $$"""
            {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": {{Header.VocabSize}}, "hidden_size": {{Header.Dim}},
             "intermediate_size": {{Header.HiddenDim}}, "num_hidden_layers": {{Header.NumLayers}}, "num_attention_heads": {{Header.NumHeads}},
             "num_key_value_heads": {{Header.NumKvHeads}}, "max_position_embeddings": {{Header.SeqLen}}, "rms_norm_eps": 1e-5,
             "tie_word_embeddings": false, "bos_token_id": 1, "eos_token_id": 2}
            """);

        using var fromBin = ModelFactory.Load(dir.File("model.bin"), "auto", ScalarType.Float32, CPU);
        using var fromHf = ModelFactory.Load(hfDir, "auto", ScalarType.Float32, CPU);
        var tokens = new[] { 1, 5, 17, 42, 96, 3, 60, 11, 8 };
        using var a = Logits(fromBin.Model, tokens);
        using var b = Logits(fromHf.Model, tokens);
        Assert.True(a.allclose(b, rtol: 0, atol: 1e-4), $"max difference {(a - b).abs().max().item<float>()}");
        Assert.True(a.std().item<float>() > 0.1f, "logits should vary, or the comparison proves nothing");
    }

    private static Tensor Logits(ICausalLanguageModel model, int[] tokens)
    {
        var config = model.Config;
        using var attention = new DenseAttention(config.NumLayers, config.KvHeads, config.HeadSize, config.MaxPositions, model.DType, model.Device);
        using var batch = new AttentionBatch([0], [0, tokens.Length], [tokens.Length], [], []);
        using var noGrad = no_grad();
        return model.Forward(tensor(tokens.Select(t => (long)t).ToArray()), arange(tokens.Length, dtype: int64), batch, attention, arange(tokens.Length, dtype: int64));
    }

    private static Dictionary<string, Tensor> RandomWeights()
    {
        using var generator = new Generator(1234);
        int d = Header.Dim, kv = Header.KvDim, h = Header.HiddenDim, v = Header.VocabSize;
        Tensor R(params long[] shape) => randn(shape, generator: generator).mul_(0.3);
        var w = new Dictionary<string, Tensor> { ["model.embed_tokens.weight"] = R(v, d), ["model.norm.weight"] = R(d).add_(1), ["lm_head.weight"] = R(v, d) };
        for (int l = 0; l < Header.NumLayers; l++)
        {
            string p = $"model.layers.{l}.";
            w[p + "input_layernorm.weight"] = R(d).add_(1);
            w[p + "post_attention_layernorm.weight"] = R(d).add_(1);
            w[p + "self_attn.q_proj.weight"] = R(d, d);
            w[p + "self_attn.k_proj.weight"] = R(kv, d);
            w[p + "self_attn.v_proj.weight"] = R(kv, d);
            w[p + "self_attn.o_proj.weight"] = R(d, d);
            w[p + "mlp.gate_proj.weight"] = R(h, d);
            w[p + "mlp.up_proj.weight"] = R(h, d);
            w[p + "mlp.down_proj.weight"] = R(d, h);
        }
        return w;
    }

    // Meta/llama2.c pair rows (2j, 2j+1) of each head; Hugging Face pairs (j, j + d/2).
    private static Dictionary<string, Tensor> ToHuggingFace(Dictionary<string, Tensor> weights) =>
        weights.ToDictionary(kv => kv.Key, kv =>
            kv.Key.EndsWith("q_proj.weight") ? Permute(kv.Value, Header.NumHeads)
            : kv.Key.EndsWith("k_proj.weight") ? Permute(kv.Value, Header.NumKvHeads)
            : kv.Value);

    private static Tensor Permute(Tensor w, int heads) =>
        w.view(heads, w.shape[0] / heads / 2, 2, w.shape[1]).transpose(1, 2).reshape(w.shape[0], w.shape[1]).contiguous();
}
