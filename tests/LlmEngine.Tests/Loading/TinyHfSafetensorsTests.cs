using System.Buffers.Binary;
using System.Text.Json;
using LlmEngine.Kernels.Loading;
using TorchSharp;

namespace LlmEngine.Tests.Loading;

/// <summary>The shared tiny GPT-2, OPT and LLaMA checkpoints, checked against their header as
/// parsed here with System.Text.Json and against the raw bytes it points at.</summary>
public class TinyHfSafetensorsTests
{
    private sealed record RawEntry(string DType, long[] Shape, long Offset, long Length);

    private static string FileOf(string family) => Path.Combine(SharedModels.TinyHf(family), "model.safetensors");

    private static Dictionary<string, RawEntry> RawHeader(string path)
    {
        var lengthBytes = RawFloats.Bytes(path, 0, 8);
        long headerLength = (long)BinaryPrimitives.ReadUInt64LittleEndian(lengthBytes);
        using var json = JsonDocument.Parse(RawFloats.Bytes(path, 8, headerLength));
        var entries = new Dictionary<string, RawEntry>();
        foreach (var p in json.RootElement.EnumerateObject().Where(p => p.Name != "__metadata__"))
        {
            var offsets = p.Value.GetProperty("data_offsets").EnumerateArray().Select(e => e.GetInt64()).ToArray();
            entries[p.Name] = new RawEntry(
                p.Value.GetProperty("dtype").GetString()!,
                p.Value.GetProperty("shape").EnumerateArray().Select(e => e.GetInt64()).ToArray(),
                8 + headerLength + offsets[0],
                offsets[1] - offsets[0]);
        }
        return entries;
    }

    [Theory]
    [InlineData("gpt2")]
    [InlineData("opt")]
    [InlineData("llama")]
    public void NamesAndShapesMatchTheHeader(string family)
    {
        var raw = RawHeader(FileOf(family));
        using var file = new SafetensorsFile(FileOf(family));
        Assert.Equal(raw.Keys.Order(), file.Names.Order());
        Assert.All(raw, p => Assert.Equal(p.Value.Shape, file.Shape(p.Key)));
    }

    [Theory]
    [InlineData("gpt2")]
    [InlineData("opt")]
    [InlineData("llama")]
    public void EveryTensorLoadsAsTheBytesItsOffsetsPointAt(string family)
    {
        using var temporaries = torch.NewDisposeScope();
        var raw = RawHeader(FileOf(family));
        using var file = new SafetensorsFile(FileOf(family));
        Assert.All(raw, p =>
        {
            using var tensor = file.Load(p.Key, torch.ScalarType.Float32);
            Assert.Equal(RawFloats.Bytes(FileOf(family), p.Value.Offset, p.Value.Length), RawFloats.BytesOf(tensor));
        });
    }

    [Fact]
    public void LlamaKeyProjectionHasTwoKeyValueHeadsOfEight()
    {
        using var file = new SafetensorsFile(FileOf("llama"));
        Assert.Equal([16L, 64L], file.Shape("model.layers.1.self_attn.k_proj.weight"));
    }

    [Fact]
    public void Gpt2ConvolutionWeightsKeepTheirInputByOutputLayout()
    {
        using var file = new SafetensorsFile(FileOf("gpt2"));
        Assert.Equal([64L, 192L], file.Shape("transformer.h.0.attn.c_attn.weight"));
    }

    [Fact]
    public void MetadataAndStoredDtypeAreExposed()
    {
        using var file = new SafetensorsFile(FileOf("opt"));
        Assert.Equal(("pt", "F32"), (file.Metadata["format"], file.StoredDType("model.decoder.embed_tokens.weight")));
    }
}
