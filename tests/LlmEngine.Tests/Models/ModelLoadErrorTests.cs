using LlmEngine.Kernels.Loading;
using LlmEngine.Kernels.Models;
using LlmEngine.Tests.Loading;
using TorchSharp;
using static TorchSharp.torch;

namespace LlmEngine.Tests.Models;

/// <summary>Errors a user meets when a model's files do not fit its config: one line naming the
/// directory and the tensor.</summary>
public class ModelLoadErrorTests
{
    private static string WriteLlama(TempDir dir, Dictionary<string, Tensor> tensors)
    {
        File.WriteAllText(dir.File("config.json"), """
            {"architectures": ["LlamaForCausalLM"], "vocab_size": 16, "hidden_size": 8, "intermediate_size": 16,
             "num_hidden_layers": 1, "num_attention_heads": 2, "max_position_embeddings": 32, "tie_word_embeddings": true}
            """);
        SafetensorsWriter.Write(dir.File("model.safetensors"), tensors);
        return dir.Path;
    }

    private static Dictionary<string, Tensor> Weights() => new()
    {
        ["model.embed_tokens.weight"] = randn(16, 8),
        ["model.norm.weight"] = ones(8),
        ["model.layers.0.input_layernorm.weight"] = ones(8),
        ["model.layers.0.post_attention_layernorm.weight"] = ones(8),
        ["model.layers.0.self_attn.q_proj.weight"] = randn(8, 8),
        ["model.layers.0.self_attn.k_proj.weight"] = randn(8, 8),
        ["model.layers.0.self_attn.v_proj.weight"] = randn(8, 8),
        ["model.layers.0.self_attn.o_proj.weight"] = randn(8, 8),
        ["model.layers.0.mlp.gate_proj.weight"] = randn(16, 8),
        ["model.layers.0.mlp.up_proj.weight"] = randn(16, 8),
        ["model.layers.0.mlp.down_proj.weight"] = randn(8, 16),
    };

    [Fact]
    public void CompleteModelLoads()
    {
        using var dir = new TempDir();
        using var model = ModelFactory.Load(WriteLlama(dir, Weights()), "auto", ScalarType.Float32, CPU);
        Assert.Equal(16, model.Config.VocabSize);
    }

    [Fact]
    public void ShapeMismatchNamesTheTensorAndBothShapes()
    {
        using var temporaries = torch.NewDisposeScope();
        using var dir = new TempDir();
        var weights = Weights();
        weights["model.layers.0.mlp.up_proj.weight"] = randn(12, 8);
        var error = Assert.Throws<ModelLoadException>(() => ModelFactory.Load(WriteLlama(dir, weights), "auto", ScalarType.Float32, CPU));
        Assert.Contains(dir.Path, error.Message);
        Assert.Contains("'model.layers.0.mlp.up_proj.weight' has shape [12, 8], expected [16, 8]", error.Message);
        Assert.DoesNotContain('\n', error.Message);
    }

    [Fact]
    public void MissingTensorIsNamed()
    {
        using var dir = new TempDir();
        var weights = Weights();
        weights.Remove("model.norm.weight");
        var error = Assert.Throws<ModelLoadException>(() => ModelFactory.Load(WriteLlama(dir, weights), "auto", ScalarType.Float32, CPU));
        Assert.Contains("'model.norm.weight' is missing", error.Message);
    }

    [Fact]
    public void InconsistentHeadCountIsReported()
    {
        using var dir = new TempDir();
        WriteLlama(dir, Weights());
        File.WriteAllText(dir.File("config.json"), File.ReadAllText(dir.File("config.json")).Replace("\"num_attention_heads\": 2", "\"num_attention_heads\": 3"));
        var error = Assert.Throws<ModelLoadException>(() => ModelFactory.Load(dir.Path, "auto", ScalarType.Float32, CPU));
        Assert.Contains("not a multiple of 3 heads", error.Message);
    }

    [Fact]
    public void UnsupportedLoadFormatIsRejected() =>
        Assert.Throws<ModelLoadException>(() => ModelFactory.Load(null, "gguf", ScalarType.Float32, CPU));
}
