using System.Text.Json;
using LlmEngine.Kernels.Loading;
using TorchSharp;

namespace LlmEngine.Tests.Loading;

public class ShardedSafetensorsTests
{
    /// <summary>Writes two shards and their index the way transformers names them.</summary>
    internal static Dictionary<string, torch.Tensor> WriteTwoShards(TempDir dir)
    {
        var first = new Dictionary<string, torch.Tensor>
        {
            ["model.embed_tokens.weight"] = torch.arange(12, dtype: torch.ScalarType.Float32).reshape(4, 3),
            ["model.norm.weight"] = torch.ones(3, dtype: torch.ScalarType.BFloat16),
        };
        var second = new Dictionary<string, torch.Tensor>
        {
            ["lm_head.weight"] = torch.full(4, 3, 0.5, dtype: torch.ScalarType.Float16),
        };
        SafetensorsWriter.Write(dir.File("model-00001-of-00002.safetensors"), first);
        SafetensorsWriter.Write(dir.File("model-00002-of-00002.safetensors"), second);
        var weightMap = first.Keys.ToDictionary(k => k, _ => "model-00001-of-00002.safetensors");
        foreach (var k in second.Keys) weightMap[k] = "model-00002-of-00002.safetensors";
        File.WriteAllText(dir.File("model.safetensors.index.json"),
            JsonSerializer.Serialize(new { metadata = new { total_size = 0 }, weight_map = weightMap }));
        return first.Concat(second).ToDictionary();
    }

    [Fact]
    public void EveryTensorOfEveryShardLoadsThroughTheIndex()
    {
        using var dir = new TempDir();
        var written = WriteTwoShards(dir);

        using var sharded = new ShardedSafetensors(dir.File("model.safetensors.index.json"));
        Assert.Equal(written.Keys.Order(), sharded.Names.Order());
        Assert.All(written, p =>
        {
            using var loaded = sharded.Load(p.Key, p.Value.dtype);
            Assert.True(RawFloats.Same(loaded, p.Value) && sharded.Shape(p.Key).SequenceEqual(p.Value.shape), p.Key);
        });
    }

    [Fact]
    public void UnknownNameIsReportedAgainstTheIndex()
    {
        using var dir = new TempDir();
        WriteTwoShards(dir);

        using var sharded = new ShardedSafetensors(dir.File("model.safetensors.index.json"));
        var error = Assert.Throws<ModelLoadException>(() => sharded.Load("nope", torch.ScalarType.Float32));
        Assert.Contains("model.safetensors.index.json", error.Message);
    }
}
