using LlmEngine.Kernels.Loading;
using TorchSharp;

namespace LlmEngine.Tests.Loading;

public class Llama2cWriterTests
{
    /// <summary>Random weights under Hugging Face names for a model of this header.</summary>
    internal static Dictionary<string, torch.Tensor> RandomWeights(Llama2cHeader h, int seed)
    {
        var generator = new torch.Generator((ulong)seed);
        var weights = new Dictionary<string, torch.Tensor>();
        void Add(string name, params long[] shape) => weights[name] = torch.randn(shape, generator: generator);

        Add("model.embed_tokens.weight", h.VocabSize, h.Dim);
        for (int i = 0; i < h.NumLayers; i++)
        {
            Add($"model.layers.{i}.input_layernorm.weight", h.Dim);
            Add($"model.layers.{i}.self_attn.q_proj.weight", h.Dim, h.Dim);
            Add($"model.layers.{i}.self_attn.k_proj.weight", h.KvDim, h.Dim);
            Add($"model.layers.{i}.self_attn.v_proj.weight", h.KvDim, h.Dim);
            Add($"model.layers.{i}.self_attn.o_proj.weight", h.Dim, h.Dim);
            Add($"model.layers.{i}.post_attention_layernorm.weight", h.Dim);
            Add($"model.layers.{i}.mlp.gate_proj.weight", h.HiddenDim, h.Dim);
            Add($"model.layers.{i}.mlp.up_proj.weight", h.HiddenDim, h.Dim);
            Add($"model.layers.{i}.mlp.down_proj.weight", h.Dim, h.HiddenDim);
        }
        Add("model.norm.weight", h.Dim);
        if (!h.SharedClassifier) Add("lm_head.weight", h.VocabSize, h.Dim);
        return weights;
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void OneRandomModelReadsTheSameFromBothFormats(bool shared)
    {
        using var dir = new TempDir();
        var header = new Llama2cHeader(16, 24, 2, 4, 2, 40, 8, shared);
        var weights = RandomWeights(header, seed: 7);
        Llama2cWriter.Write(dir.File("model.bin"), header, weights);
        SafetensorsWriter.Write(dir.File("model.safetensors"), weights);

        using var legacy = new Llama2cCheckpoint(dir.File("model.bin"));
        using var modern = new SafetensorsFile(dir.File("model.safetensors"));
        Assert.Equal(modern.Names.Order(), legacy.Names.Order());
        Assert.All(modern.Names, name =>
        {
            using var a = legacy.Load(name, torch.ScalarType.Float32);
            using var b = modern.Load(name, torch.ScalarType.Float32);
            Assert.True(RawFloats.Same(a, b), name);
        });
    }

    [Fact]
    public void SeparateClassifierIsStoredAsANegativeVocabularyAndAppendedAtTheEnd()
    {
        using var dir = new TempDir();
        var header = new Llama2cHeader(16, 24, 2, 4, 2, 40, 8, SharedClassifier: false);
        Llama2cWriter.Write(dir.File("model.bin"), header, RandomWeights(header, seed: 3));

        var vocabField = RawFloats.Bytes(dir.File("model.bin"), 5 * 4, 4);
        long classifierBytes = 40 * 16 * 4;
        var tail = RawFloats.At(dir.File("model.bin"), new FileInfo(dir.File("model.bin")).Length - classifierBytes, 40 * 16);
        using var checkpoint = new Llama2cCheckpoint(dir.File("model.bin"));
        using var head = checkpoint.Load("lm_head.weight", torch.ScalarType.Float32);
        Assert.Equal(-40, BitConverter.ToInt32(vocabField));
        Assert.Equal(tail, head.data<float>().ToArray());
    }

    [Fact]
    public void WeightWithTheWrongShapeIsRefusedBeforeWriting()
    {
        using var temporaries = torch.NewDisposeScope();
        using var dir = new TempDir();
        var header = new Llama2cHeader(16, 24, 2, 4, 2, 40, 8, SharedClassifier: true);
        var weights = RandomWeights(header, seed: 1);
        weights["model.norm.weight"] = torch.zeros(17);

        Assert.Throws<ArgumentException>(() => Llama2cWriter.Write(dir.File("model.bin"), header, weights));
        Assert.False(File.Exists(dir.File("model.bin")));
    }
}
