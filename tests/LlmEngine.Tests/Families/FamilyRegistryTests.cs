using LlmEngine.Kernels.Loading;
using LlmEngine.Kernels.Models;
using LlmEngine.Kernels.Models.Gpt2;
using LlmEngine.Kernels.Models.Opt;
using LlmEngine.Kernels.Runtime;
using LlmEngine.Kernels.Sampling;
using LlmEngine.Tests.Loading;
using LlmEngine.Tests.Models;
using TorchSharp;

namespace LlmEngine.Tests.Families;

/// <summary>Which family serves a config, and what each family reads from its config.json.</summary>
public class FamilyRegistryTests
{
    [Fact]
    public void UnsupportedArchitectureErrorListsTheSupportedFamilies()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("config.json"), """{"architectures": ["FalconForCausalLM"], "model_type": "falcon"}""");
        var error = Assert.Throws<ModelLoadException>(() => ModelFactory.Load(dir.Path, "dummy", torch.ScalarType.Float32, torch.CPU));
        Assert.DoesNotContain('\n', error.Message);
        foreach (string name in new[] { "FalconForCausalLM", "LlamaForCausalLM", "GPT2LMHeadModel", "OPTForCausalLM", "Qwen2ForCausalLM", "Gemma2ForCausalLM" })
            Assert.Contains(name, error.Message);
    }

    [Theory]
    [InlineData("qwen2", "yarn")]
    [InlineData("phi3", "su")]
    [InlineData("llama3", "dynamic_ntk_by_parts")]
    public void AnUnknownRopeScalingTypeIsALoadErrorNamingIt(string family, string type)
    {
        using var dir = new TempDir();
        var config = TinyHfVariant.Config(family);
        config["rope_scaling"] = new System.Text.Json.Nodes.JsonObject { ["rope_type"] = type, ["factor"] = 2.0 };
        File.WriteAllText(dir.File("config.json"), config.ToJsonString());
        var error = Assert.Throws<ModelLoadException>(() => ModelFactory.Load(dir.Path, "dummy", torch.ScalarType.Float32, torch.CPU));
        Assert.Contains($"'{type}'", error.Message);
        Assert.Contains("longrope", error.Message);
    }

    [Fact]
    public void LongRopeWithoutItsFactorsIsALoadError()
    {
        using var dir = new TempDir();
        var config = TinyHfVariant.Config("phi3_longrope");
        config["rope_scaling"]!.AsObject().Remove("long_factor");
        File.WriteAllText(dir.File("config.json"), config.ToJsonString());
        var error = Assert.Throws<ModelLoadException>(() => ModelFactory.Load(dir.Path, "dummy", torch.ScalarType.Float32, torch.CPU));
        Assert.Contains("long_factor", error.Message);
    }

    [Theory]
    [InlineData("mistral", new[] { 16, 16 })]
    [InlineData("starcoder2", new[] { 24, 24 })]
    [InlineData("gemma2", new[] { 60, 0, 60, 0 })]
    [InlineData("qwen2", new int[0])]
    public void SlidingWindowsPerLayerFollowTheFamily(string family, int[] windows)
    {
        using var temporaries = torch.NewDisposeScope();
        using var loaded = TinyHfReference.LoadModel(family);
        Assert.Equal(windows, loaded.Config.SlidingWindows);
    }

    [Theory]
    [InlineData("gpt2", typeof(Gpt2Model))]
    [InlineData("opt", typeof(OptModel))]
    public void ModelTypeAloneSelectsTheFamily(string family, Type model)
    {
        using var dir = new TempDir();
        var config = TinyHfVariant.Config(family);
        config.Remove("architectures");
        using var loaded = ModelFactory.Load(TinyHfVariant.Write(dir, config, TinyHfVariant.Tensors(family)), "auto", torch.ScalarType.Float32, torch.CPU);
        Assert.IsType(model, loaded.Model);
    }

    [Fact]
    public void Gpt2ConfigReadsTransformersDefaults()
    {
        var config = new Gpt2Family().ReadConfig(HuggingFaceConfig.Load(SharedModels.TinyHf("gpt2")));
        Assert.Equal((64, 4, 2, 256, 256), (config.HiddenSize, config.NumHeads, config.NumLayers, config.IntermediateSize, config.MaxPositions));
        Assert.Equal(("gelu_new", true, false, true), (config.Activation, config.ScaleAttentionWeights, config.ScaleAttentionByInverseLayerIndex, config.TieWordEmbeddings));
    }

    [Fact]
    public void Gpt2SpecialIdsOutsideTheVocabularyAreDropped()
    {
        // The tiny GPT-2 keeps <|endoftext|> = 50256 with a vocabulary of 512.
        var config = new Gpt2Family().ReadConfig(HuggingFaceConfig.Load(SharedModels.TinyHf("gpt2")));
        Assert.Null(config.BosTokenId);
        Assert.Empty(config.EosTokenIds);
    }

    [Fact]
    public void Gpt2GenerationWithMinTokensIndexesNothingBeyondTheVocabulary()
    {
        using var temporaries = torch.NewDisposeScope();
        using var loaded = TinyHfReference.LoadModel("gpt2");
        var sampling = new SamplingParameters { Temperature = 0, MaxTokens = 5, MinTokens = 3 };
        var result = DenseGenerator.Generate(loaded.Model, [[1, 2, 3]], sampling, loaded.Config.EosTokenIds.ToArray());
        Assert.Equal(5, result[0].TokenIds.Length);
    }

    [Fact]
    public void OptConfigReadsTransformersDefaults()
    {
        var config = new OptFamily().ReadConfig(HuggingFaceConfig.Load(SharedModels.TinyHf("opt")));
        Assert.Equal((64, 4, 2, 256, 256, 64), (config.HiddenSize, config.NumHeads, config.NumLayers, config.IntermediateSize, config.MaxPositions, config.WordEmbedProjectionSize));
        Assert.Equal(("relu", true, true, true, true), (config.Activation, config.LayerNormBefore, config.FinalLayerNorm, config.AttentionBias, config.TieWordEmbeddings));
        Assert.Equal([2], config.EosTokenIds);
    }

    [Fact]
    public void UnsupportedActivationIsNamedWithTheSupportedOnes()
    {
        using var dir = new TempDir();
        var config = TinyHfVariant.Config("gpt2");
        config["activation_function"] = "mish";
        File.WriteAllText(dir.File("config.json"), config.ToJsonString());
        var error = Assert.Throws<ModelLoadException>(() => ModelFactory.Load(dir.Path, "dummy", torch.ScalarType.Float32, torch.CPU));
        Assert.Contains("'mish'", error.Message);
        Assert.Contains("gelu_new", error.Message);
    }
}
