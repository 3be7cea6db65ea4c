using LlmEngine.Kernels.Loading;
using TorchSharp;

namespace LlmEngine.Tests.Loading;

public class ModelLocatorTests
{
    [Fact]
    public void HuggingFaceDirectoryResolvesToItsConfigAndSafetensors()
    {
        string dir = SharedModels.TinyHf("llama");
        Assert.Equal(
            new ModelFiles(ModelKind.HuggingFace, dir, Path.Combine(dir, "model.safetensors"), Path.Combine(dir, "config.json"), null),
            ModelLocator.Resolve(dir));
    }

    [Fact]
    public void ShardedDirectoryResolvesToItsIndexAndOpensAsSharded()
    {
        using var dir = new TempDir();
        ShardedSafetensorsTests.WriteTwoShards(dir);
        File.WriteAllText(dir.File("config.json"), "{}");

        var files = ModelLocator.Resolve(dir.Path);
        using var source = WeightSources.Open(files);
        Assert.Equal((dir.File("model.safetensors.index.json"), typeof(ShardedSafetensors)), (files.WeightsPath, source.GetType()));
    }

    [Fact]
    public void Llama2cDirectoryResolvesToTheCheckpointAndItsTokenizer()
    {
        string dir = SharedModels.Stories260K;
        Assert.Equal(
            new ModelFiles(ModelKind.Llama2c, dir, SharedModels.Stories260KBin, null, Path.Combine(dir, "tok512.bin")),
            ModelLocator.Resolve(dir));
    }

    [Fact]
    public void Llama2cBinPathResolvesLikeItsDirectory()
    {
        Assert.Equal(ModelLocator.Resolve(SharedModels.Stories260K), ModelLocator.Resolve(SharedModels.Stories260KBin));
    }

    [Fact]
    public void TokenizerBinIsPreferredOverSizedTokenizers()
    {
        using var dir = new TempDir();
        foreach (var name in new[] { "model.bin", "tokenizer.bin", "tok512.bin" }) File.WriteAllBytes(dir.File(name), [0]);
        var files = ModelLocator.Resolve(dir.Path);
        Assert.Equal((dir.File("model.bin"), dir.File("tokenizer.bin")), (files.WeightsPath, files.TokenizerPath));
    }

    [Fact]
    public void DirectoryWithTwoCheckpointsAsksForOne()
    {
        using var dir = new TempDir();
        foreach (var name in new[] { "a.bin", "b.bin" }) File.WriteAllBytes(dir.File(name), [0]);
        var error = Assert.Throws<ModelLoadException>(() => ModelLocator.Resolve(dir.Path));
        Assert.Contains("a.bin, b.bin", error.Message);
    }

    [Fact]
    public void OpenedSourcesServeTheirWeights()
    {
        using var hf = WeightSources.Open(ModelLocator.Resolve(SharedModels.TinyHf("llama")));
        using var legacy = WeightSources.Open(ModelLocator.Resolve(SharedModels.Stories260K));
        using var a = hf.Load("model.norm.weight", torch.ScalarType.Float32);
        using var b = legacy.Load("model.norm.weight", torch.ScalarType.Float32);
        Assert.Equal((typeof(SafetensorsFile), typeof(Llama2cCheckpoint), 64L, 64L), (hf.GetType(), legacy.GetType(), a.shape[0], b.shape[0]));
    }
}
