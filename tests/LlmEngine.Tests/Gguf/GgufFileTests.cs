using System.Text;
using LlmEngine.Kernels.Loading;
using LlmEngine.Kernels.Loading.Gguf;
using LlmEngine.Kernels.Models;
using LlmEngine.Kernels.Quantization;
using LlmEngine.Tests.Loading;
using TorchSharp;

namespace LlmEngine.Tests.Gguf;

/// <summary>The GGUF reader on llama.cpp's own files, and on damaged copies of them.</summary>
public class GgufFileTests
{
    private static readonly string Stories = GgufReference.ModelPath("stories260K-f32.gguf");

    [Fact]
    public void HeaderMetadataAndTensorInfosAreRead()
    {
        using var file = GgufFile.Open(Stories);
        Assert.Equal(3u, file.Version);
        Assert.Equal(48, file.Tensors.Count);
        Assert.Equal("llama", file.Metadata.String("general.architecture"));
        Assert.Equal(128, file.Metadata.Integer("llama.context_length"));
        Assert.Equal(1e-5, file.Metadata.FloatOrNull("llama.attention.layer_norm_rms_epsilon")!.Value, 1e-9);
        Assert.Equal(512, file.Metadata.StringArray("tokenizer.ggml.tokens")!.Length);
        Assert.Equal(0, file.DataOffset % 32);
    }

    [Fact]
    public void ShapesArePyTorchOrderWithTheRowLast()
    {
        using var temporaries = torch.NewDisposeScope();
        using var file = GgufFile.Open(Stories);
        // ggml's ne is [64, 512] (row length first); a linear's weight is [out, in].
        Assert.Equal([512L, 64L], file.Info("token_embd.weight").Shape);
        Assert.Equal([64L, 172L], file.Info("blk.0.ffn_down.weight").Shape);
    }

    [Fact]
    public void TensorViewReadsTheMappedBytesAndOutlivesTheFile()
    {
        QuantizedTensor norm;
        using (var file = GgufFile.Open(Stories)) norm = file.Tensor("output_norm.weight");
        using (norm)
        {
            var values = new float[64];
            norm.Dequantize(values);
            using var checkpoint = new Llama2cCheckpoint(SharedModels.Stories260KBin);
            using var expected = checkpoint.Load("model.norm.weight", torch.ScalarType.Float32);
            Assert.Equal(expected.data<float>().ToArray(), values);
        }
    }

    [Fact]
    public void LlamaCppsRotaryRowOrderIsUndoneForQueriesAndKeys()
    {
        using var temporaries = torch.NewDisposeScope();
        // llama2.c stores Q and K in the interleaved order GGUF keeps; Hugging Face's half-split order
        // is that order gathered by RotaryRows.SourceRows, which is what the GGUF source must return.
        using var gguf = GgufWeightSource.Open(Stories);
        using var checkpoint = new Llama2cCheckpoint(SharedModels.Stories260KBin);
        foreach (var (name, heads) in new[] { ("model.layers.3.self_attn.q_proj.weight", 8), ("model.layers.3.self_attn.k_proj.weight", 4) })
        {
            using var interleaved = checkpoint.Load(name, torch.ScalarType.Float32);
            using var rows = torch.tensor(RotaryRows.SourceRows((int)interleaved.shape[0], heads).Select(r => (long)r).ToArray());
            using var expected = interleaved.index_select(0, rows);
            using var loaded = gguf.Load(name, torch.ScalarType.Float32);
            Assert.Equal(expected.data<float>().ToArray(), loaded.data<float>().ToArray());
        }
    }

    [Fact]
    public void ConfigComesFromTheMetadataWithTheContextOverridable()
    {
        using var loaded = ModelFactory.Load(Stories, "auto", torch.ScalarType.Float32, torch.CPU, maxModelLength: 300);
        var c = loaded.Config;
        Assert.Equal((64, 5, 8, 4, 172, 512), (c.HiddenSize, c.NumLayers, c.NumHeads, c.KvHeads, c.IntermediateSize, c.VocabSize));
        Assert.Equal((300, RotaryStyle.HalfSplit, false), (c.MaxPositions, c.Rotary, c.TieWordEmbeddings));
        Assert.Equal([2], c.EosTokenIds);
        using var fileContext = ModelFactory.Load(Stories, "auto", torch.ScalarType.Float32, torch.CPU);
        Assert.Equal(128, fileContext.Config.MaxPositions);
    }

    [Fact]
    public void NotAGgufFileIsRefused()
    {
        using var dir = new TempDir();
        File.WriteAllBytes(dir.File("x.gguf"), Encoding.ASCII.GetBytes("GGML not really a model file"));
        var error = Assert.Throws<ModelLoadException>(() => GgufFile.Open(dir.File("x.gguf")));
        Assert.Contains("not a GGUF file", error.Message);
    }

    [Theory]
    [InlineData(100)]      // inside the vocabulary's strings
    [InlineData(40_000)]   // inside the tensor data
    public void TruncatedFileIsRefusedWithWhereItEnds(int length)
    {
        using var dir = new TempDir();
        File.WriteAllBytes(dir.File("cut.gguf"), File.ReadAllBytes(Stories)[..length]);
        var error = Assert.Throws<ModelLoadException>(() => GgufFile.Open(dir.File("cut.gguf")));
        Assert.Contains(length < 1000 ? "not a valid GGUF file at byte" : "past the end of the file", error.Message);
    }

    [Fact]
    public void VersionOneIsRefusedByName()
    {
        var bytes = File.ReadAllBytes(Stories);
        bytes[4] = 1;
        var error = Assert.Throws<ModelLoadException>(() => OpenCopy(bytes));
        Assert.Contains("version 1", error.Message);
    }

    [Fact]
    public void UnsupportedArchitectureIsALoadErrorNamingIt()
    {
        var bytes = Patch(File.ReadAllBytes(Stories), "general.architecture", 12, "llama", "zebra");
        using var dir = new TempDir();
        File.WriteAllBytes(dir.File("m.gguf"), bytes);
        var error = Assert.Throws<ModelLoadException>(() => ModelFactory.Load(dir.File("m.gguf"), "auto", torch.ScalarType.Float32, torch.CPU));
        Assert.Contains("architecture 'zebra' is not supported", error.Message);
    }

    [Fact]
    public void UnsupportedTensorTypeIsALoadErrorNamingTensorAndType()
    {
        // The type field follows the name, its dimension count and its two dimensions.
        var bytes = File.ReadAllBytes(Stories);
        int name = IndexOf(bytes, Encoding.ASCII.GetBytes("output_norm.weight"), 0);
        int type = name + "output_norm.weight".Length + 4 + 8;
        bytes[type] = 20; // IQ4_NL
        using var dir = new TempDir();
        File.WriteAllBytes(dir.File("m.gguf"), bytes);
        var error = Assert.Throws<ModelLoadException>(() => ModelFactory.Load(dir.File("m.gguf"), "auto", torch.ScalarType.Float32, torch.CPU));
        Assert.Contains("'output_norm.weight' has ggml type #20", error.Message);
    }

    [Fact]
    public void DirectoryWithOneGgufFileLoadsIt()
    {
        using var dir = new TempDir();
        File.Copy(Stories, dir.File("model.gguf"));
        Assert.Equal(ModelKind.Gguf, ModelLocator.Resolve(dir.Path).Kind);
    }

    private static GgufFile OpenCopy(byte[] bytes)
    {
        using var dir = new TempDir();
        File.WriteAllBytes(dir.File("m.gguf"), bytes);
        return GgufFile.Open(dir.File("m.gguf"));
    }

    /// <summary>Replaces a string value of the same length, found <paramref name="skip"/> bytes after its key.</summary>
    private static byte[] Patch(byte[] bytes, string key, int skip, string from, string to)
    {
        int at = IndexOf(bytes, Encoding.ASCII.GetBytes(key), 0) + key.Length + skip;
        Assert.Equal(from, Encoding.ASCII.GetString(bytes, at, from.Length));
        Encoding.ASCII.GetBytes(to).CopyTo(bytes, at);
        return bytes;
    }

    private static int IndexOf(byte[] haystack, byte[] needle, int from) => haystack.AsSpan(from).IndexOf(needle) + from;
}
