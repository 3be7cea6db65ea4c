using LlmEngine.Kernels.Models;
using LlmEngine.Tests.Loading;
using TorchSharp;

namespace LlmEngine.Tests.Models;

/// <summary>A router (<c>serve --no-engine</c>) reads a model's header, not its weights: the config,
/// tokenizer and name must be those the engine loads, or the router would hash, check and name
/// requests differently from the replicas it routes to.</summary>
public class ModelHeaderTests
{
    public static TheoryData<string?> Models() => new()
    {
        null,
        SharedModels.Stories260K,
        SharedModels.TinyHf("llama"),
        SharedModels.TinyHf("gpt2"),
        Path.Combine(SharedModels.Root, "gguf", "stories260K-f32.gguf"),
    };

    [Theory]
    [MemberData(nameof(Models))]
    public void TheHeaderIsWhatTheEngineLoadsWithoutTheWeights(string? path)
    {
        var header = ModelFactory.Describe(path, maxModelLength: 0);
        using var loaded = ModelFactory.Load(path, "auto", torch.ScalarType.Float32, torch.CPU);

        Assert.Equal(loaded.Name, header.Name);
        Assert.Equal(loaded.IsDefault, header.IsDefault);
        Assert.Equal(loaded.Config with { EosTokenIds = [] }, header.Config with { EosTokenIds = [] });
        Assert.Equal(loaded.Config.EosTokenIds, header.Config.EosTokenIds);
        // The tiny Hugging Face models come without a tokenizer: so must their header.
        Assert.Equal(loaded.Tokenizer is null, header.Tokenizer is null);
        if (loaded.Tokenizer is null) return;
        const string text = "Once upon a time, there was a little dog.";
        Assert.Equal(loaded.Tokenizer.Encode(text, true), header.Tokenizer!.Encode(text, true));
        Assert.Equal(loaded.Tokenizer.EosTokenId, header.Tokenizer.EosTokenId);
    }

    [Fact]
    public void AGgufContextIsCutAsTheEngineCutsIt()
    {
        var path = Path.Combine(SharedModels.Root, "gguf", "stories260K-f32.gguf");
        Assert.Equal(512, ModelFactory.Describe(path, maxModelLength: 512).Config.MaxPositions);
    }

    [Fact]
    public void AMissingModelIsTheLoadersError()
    {
        var missing = Path.Combine(Path.GetTempPath(), "no-such-model-" + Guid.NewGuid().ToString("N"));
        var load = Assert.ThrowsAny<Exception>(() => ModelFactory.Load(missing, "auto", torch.ScalarType.Float32, torch.CPU));
        var describe = Assert.ThrowsAny<Exception>(() => ModelFactory.Describe(missing));
        Assert.Equal(load.GetType(), describe.GetType());
        Assert.Equal(load.Message, describe.Message);
    }
}
