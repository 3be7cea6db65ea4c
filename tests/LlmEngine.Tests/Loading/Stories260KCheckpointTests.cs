using LlmEngine.Kernels.Loading;
using TorchSharp;

namespace LlmEngine.Tests.Loading;

/// <summary>The shared stories260K llama2.c checkpoint, checked against byte offsets computed
/// here from FORMAT.md's table (in floats after the 28-byte header).</summary>
public class Stories260KCheckpointTests
{
    private const int Dim = 64, Hidden = 172, Layers = 5, KvDim = 32, Vocab = 512;
    private const long WqStart = Vocab * Dim + Layers * Dim;
    private const long WkStart = WqStart + Layers * Dim * Dim;
    private const long W2Start = WkStart + 2L * Layers * KvDim * Dim + Layers * Dim * Dim + Layers * Dim + Layers * Hidden * Dim;
    private const long RmsFinalStart = W2Start + 2L * Layers * Hidden * Dim;

    private static long ByteOffset(long floatIndex) => 28 + 4 * floatIndex;

    private static float[] Loaded(string name)
    {
        using var checkpoint = new Llama2cCheckpoint(SharedModels.Stories260KBin);
        using var tensor = checkpoint.Load(name, torch.ScalarType.Float32);
        return tensor.data<float>().ToArray();
    }

    [Fact]
    public void HeaderHoldsTheStories260KShapeWithASharedClassifier()
    {
        using var checkpoint = new Llama2cCheckpoint(SharedModels.Stories260KBin);
        Assert.Equal(new Llama2cHeader(64, 172, 5, 8, 4, 512, 512, SharedClassifier: true), checkpoint.Header);
    }

    [Fact]
    public void QueryProjectionOfLayerTwoStartsWhereTheStackedArraySaysItDoes()
    {
        var expected = RawFloats.At(SharedModels.Stories260KBin, ByteOffset(WqStart + 2 * Dim * Dim), 8);
        Assert.Equal(expected, Loaded("model.layers.2.self_attn.q_proj.weight")[..8]);
    }

    [Fact]
    public void KeyProjectionOfTheLastLayerEndsAtTheLastFloatOfTheStackedArray()
    {
        var expected = RawFloats.At(SharedModels.Stories260KBin, ByteOffset(WkStart + Layers * KvDim * Dim - 1), 1);
        Assert.Equal(expected[0], Loaded("model.layers.4.self_attn.k_proj.weight")[^1]);
    }

    [Fact]
    public void DownProjectionIsStoredDimByHidden()
    {
        using var temporaries = torch.NewDisposeScope();
        // w2 of layer 1, row 3 (an output of the model width), column 5 (an FFN unit).
        var expected = RawFloats.At(SharedModels.Stories260KBin, ByteOffset(W2Start + Hidden * Dim + 3 * Hidden + 5), 1);
        using var checkpoint = new Llama2cCheckpoint(SharedModels.Stories260KBin);
        using var down = checkpoint.Load("model.layers.1.mlp.down_proj.weight", torch.ScalarType.Float32);
        using var element = down[3, 5];
        Assert.Equal(expected[0], element.item<float>());
    }

    [Fact]
    public void FinalNormEndsBeforeTheUnusedRopeTables()
    {
        var expected = RawFloats.At(SharedModels.Stories260KBin, ByteOffset(RmsFinalStart), Dim);
        Assert.Equal(expected, Loaded("model.norm.weight"));
    }

    [Fact]
    public void EmbeddingIsTheFirstArrayAfterTheHeader()
    {
        var expected = RawFloats.At(SharedModels.Stories260KBin, ByteOffset(0), Vocab * Dim);
        Assert.Equal(expected, Loaded("model.embed_tokens.weight"));
    }

    [Fact]
    public void EveryLlamaNameIsPresentWithItsShapeAndNoSeparateHead()
    {
        using var checkpoint = new Llama2cCheckpoint(SharedModels.Stories260KBin);
        var expected = new Dictionary<string, long[]>
        {
            ["model.embed_tokens.weight"] = [Vocab, Dim],
            ["model.norm.weight"] = [Dim],
        };
        for (int i = 0; i < Layers; i++)
        {
            expected[$"model.layers.{i}.input_layernorm.weight"] = [Dim];
            expected[$"model.layers.{i}.self_attn.q_proj.weight"] = [Dim, Dim];
            expected[$"model.layers.{i}.self_attn.k_proj.weight"] = [KvDim, Dim];
            expected[$"model.layers.{i}.self_attn.v_proj.weight"] = [KvDim, Dim];
            expected[$"model.layers.{i}.self_attn.o_proj.weight"] = [Dim, Dim];
            expected[$"model.layers.{i}.post_attention_layernorm.weight"] = [Dim];
            expected[$"model.layers.{i}.mlp.gate_proj.weight"] = [Hidden, Dim];
            expected[$"model.layers.{i}.mlp.up_proj.weight"] = [Hidden, Dim];
            expected[$"model.layers.{i}.mlp.down_proj.weight"] = [Dim, Hidden];
        }
        static string Describe(string name, long[] shape) => $"{name} [{string.Join(", ", shape)}]";
        Assert.Equal(
            expected.Select(p => Describe(p.Key, p.Value)).Order(),
            checkpoint.Names.Select(name => Describe(name, checkpoint.Shape(name))).Order());
    }

    [Fact]
    public void LoadConvertsToTheRequestedDtype()
    {
        using var temporaries = torch.NewDisposeScope();
        using var checkpoint = new Llama2cCheckpoint(SharedModels.Stories260KBin);
        using var norm = checkpoint.Load("model.norm.weight", torch.ScalarType.BFloat16);
        using var exact = checkpoint.Load("model.norm.weight", torch.ScalarType.Float32);
        using var rounded = exact.to(torch.ScalarType.BFloat16);
        Assert.True(RawFloats.Same(norm, rounded));
    }
}
