using System.Buffers.Binary;
using System.Text;
using LlmEngine.Kernels.Loading;
using TorchSharp;

namespace LlmEngine.Tests.Loading;

/// <summary>Each way model files can be wrong ends in a one-line ModelLoadException naming the file.</summary>
public class LoadingErrorTests
{
    private static ModelLoadException NamesFile(string path, Action act)
    {
        var error = Assert.Throws<ModelLoadException>(act);
        Assert.Contains(path, error.Message);
        Assert.DoesNotContain('\n', error.Message);
        return error;
    }

    /// <summary>A safetensors file with a hand-written header and the given data bytes.</summary>
    private static void WriteRaw(string path, string header, int dataBytes, ulong? claimedHeaderLength = null)
    {
        var json = Encoding.UTF8.GetBytes(header);
        var bytes = new byte[8 + json.Length + dataBytes];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, claimedHeaderLength ?? (ulong)json.Length);
        json.CopyTo(bytes, 8);
        File.WriteAllBytes(path, bytes);
    }

    [Fact]
    public void MissingSafetensorsFileIsNamed()
    {
        using var dir = new TempDir();
        NamesFile(dir.File("absent.safetensors"), () => new SafetensorsFile(dir.File("absent.safetensors")));
    }

    [Fact]
    public void MissingLlama2cFileIsNamed()
    {
        using var dir = new TempDir();
        NamesFile(dir.File("absent.bin"), () => new Llama2cCheckpoint(dir.File("absent.bin")));
    }

    [Fact]
    public void TruncatedSafetensorsIsRefusedWhenOpened()
    {
        using var temporaries = torch.NewDisposeScope();
        using var dir = new TempDir();
        string path = dir.File("t.safetensors");
        using var t = torch.ones(100);
        SafetensorsWriter.Write(path, new Dictionary<string, torch.Tensor> { ["w"] = t });
        using (var stream = new FileStream(path, FileMode.Open)) stream.SetLength(stream.Length - 10);

        var error = NamesFile(path, () => new SafetensorsFile(path));
        Assert.Contains("'w'", error.Message);
    }

    [Fact]
    public void HeaderLengthBeyondTheFileIsRefused()
    {
        using var dir = new TempDir();
        WriteRaw(dir.File("t.safetensors"), "{}", 0, claimedHeaderLength: 1000);
        NamesFile(dir.File("t.safetensors"), () => new SafetensorsFile(dir.File("t.safetensors")));
    }

    [Fact]
    public void FileShorterThanTheLengthFieldIsRefused()
    {
        using var dir = new TempDir();
        File.WriteAllBytes(dir.File("t.safetensors"), [1, 2, 3]);
        NamesFile(dir.File("t.safetensors"), () => new SafetensorsFile(dir.File("t.safetensors")));
    }

    [Fact]
    public void HeaderThatIsNotJsonIsRefused()
    {
        using var dir = new TempDir();
        WriteRaw(dir.File("t.safetensors"), "{\"w\": [", 0);
        NamesFile(dir.File("t.safetensors"), () => new SafetensorsFile(dir.File("t.safetensors")));
    }

    [Fact]
    public void ByteCountThatDisagreesWithTheShapeIsRefused()
    {
        using var dir = new TempDir();
        WriteRaw(dir.File("t.safetensors"), """{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}""", 8);
        var error = NamesFile(dir.File("t.safetensors"), () => new SafetensorsFile(dir.File("t.safetensors")));
        Assert.Contains("'w'", error.Message);
    }

    [Theory]
    [InlineData("I8")]
    [InlineData("F8_E4M3")]
    public void UnsupportedStoredDtypeIsNamedWithTheTensorWhenLoaded(string dtype)
    {
        using var dir = new TempDir();
        WriteRaw(dir.File("q.safetensors"), $$$"""{"q":{"dtype":"{{{dtype}}}","shape":[2,2],"data_offsets":[0,4]}}""", 4);
        using var file = new SafetensorsFile(dir.File("q.safetensors"));

        var error = NamesFile(dir.File("q.safetensors"), () => file.Load("q", torch.ScalarType.Float32));
        Assert.Contains("'q'", error.Message);
        Assert.Contains(dtype, error.Message);
    }

    [Fact]
    public void MissingTensorIsNamedWithTheFile()
    {
        using var file = new SafetensorsFile(Path.Combine(SharedModels.TinyHf("llama"), "model.safetensors"));
        NamesFile(file.Path, () => file.Load("model.layers.9.mlp.up_proj.weight", torch.ScalarType.Float32));
    }

    [Theory]
    [InlineData(-4)]
    [InlineData(4)]
    public void Llama2cFileOfTheWrongSizeReportsExpectedAndActualSizes(int delta)
    {
        using var dir = new TempDir();
        string path = dir.File("stories260K.bin");
        File.Copy(SharedModels.Stories260KBin, path);
        using (var stream = new FileStream(path, FileMode.Open)) stream.SetLength(stream.Length + delta);

        var error = NamesFile(path, () => new Llama2cCheckpoint(path));
        Assert.Contains("1056540", error.Message);
        Assert.Contains((1056540 + delta).ToString(), error.Message);
    }

    [Theory]
    [InlineData(0x00)]
    [InlineData(0xFF)]
    public void Llama2cHeaderWithNonsenseFieldsIsRefused(byte fill)
    {
        using var dir = new TempDir();
        File.WriteAllBytes(dir.File("junk.bin"), Enumerable.Repeat(fill, 64).ToArray());
        NamesFile(dir.File("junk.bin"), () => new Llama2cCheckpoint(dir.File("junk.bin")));
    }

    [Fact]
    public void MissingShardIsNamed()
    {
        using var dir = new TempDir();
        ShardedSafetensorsTests.WriteTwoShards(dir);
        File.Delete(dir.File("model-00002-of-00002.safetensors"));

        NamesFile(dir.File("model-00002-of-00002.safetensors"), () => new ShardedSafetensors(dir.File("model.safetensors.index.json")));
    }

    [Fact]
    public void MissingConfigIsNamed()
    {
        using var dir = new TempDir();
        NamesFile(dir.File("config.json"), () => HuggingFaceConfig.Load(dir.Path));
    }

    [Fact]
    public void MalformedConfigIsNamedWithTheLineOfTheFault()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("config.json"), "{\n  \"hidden_size\": 64,\n  \"vocab_size\": \n}");

        var error = NamesFile(dir.File("config.json"), () => HuggingFaceConfig.Load(dir.Path));
        Assert.Contains("line 4", error.Message);
    }

    [Fact]
    public void MissingPathIsNamed()
    {
        using var dir = new TempDir();
        NamesFile(dir.File("nowhere"), () => ModelLocator.Resolve(dir.File("nowhere")));
    }

    [Fact]
    public void DirectoryWithNoModelIsNamed()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("notes.txt"), "not a model");
        NamesFile(dir.Path, () => ModelLocator.Resolve(dir.Path));
    }

    [Fact]
    public void ConfigWithoutWeightsIsNamed()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("config.json"), "{}");
        var error = NamesFile(dir.Path, () => ModelLocator.Resolve(dir.Path));
        Assert.Contains("model.safetensors", error.Message);
    }
}
