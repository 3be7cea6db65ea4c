using LlmEngine.Kernels.Loading;
using LlmEngine.Kernels.Tokenizers;

namespace LlmEngine.Tests.Tokenizers;

public class TokenizerLoaderTests
{
    private static readonly string Stories = SharedFiles.Path("models", "stories260K");

    [Fact]
    public void DirectoryWithTokenizerJsonGivesTheHuggingFaceTokenizer()
    {
        using TempDir dir = TinyTokenizerJson.Directory(TinyTokenizerJson.SentencePiece());
        Assert.IsType<HuggingFaceTokenizer>(TokenizerLoader.Load(dir.Path, 512));
    }

    [Fact]
    public void Llama2cModelDirectoryGivesItsTok512() =>
        Assert.IsType<Llama2cTokenizer>(TokenizerLoader.Load(Stories, 512));

    [Fact]
    public void Llama2cCheckpointPathGivesTheTokenizerBesideIt() =>
        Assert.Equal([1, 403, 407, 261, 378], TokenizerLoader.Load(Path.Combine(Stories, "stories260K.bin"), 512)!.Encode("Once upon a time"));

    [Fact]
    public void TokenizerBinIsPreferredOverTok512()
    {
        using var dir = new TempDir();
        File.Copy(SharedFiles.Tok512, dir.File("tokenizer.bin"));
        File.WriteAllBytes(dir.File("tok512.bin"), [1, 2, 3]); // would fail to load if chosen
        Assert.IsType<Llama2cTokenizer>(TokenizerLoader.Load(dir.Path, 512));
    }

    [Fact]
    public void OtherTokBinIsUsedWhenNoStandardNameExists()
    {
        using var dir = new TempDir();
        File.Copy(SharedFiles.Tok512, dir.File("tok_custom.bin"));
        Assert.IsType<Llama2cTokenizer>(TokenizerLoader.Load(dir.Path, 512));
    }

    [Fact]
    public void ModelWithoutTokenizerGivesNull() =>
        Assert.Null(TokenizerLoader.Load(SharedFiles.Path("models", "tiny-hf", "gpt2"), 512));

    [Fact]
    public void BrokenTokenizerBesideTheModelFailsNamingIt()
    {
        using var dir = new TempDir();
        File.WriteAllBytes(dir.File("tok512.bin"), File.ReadAllBytes(SharedFiles.Tok512)[..100]);
        var e = Assert.Throws<ModelLoadException>(() => TokenizerLoader.Load(dir.Path, 512));
        Assert.StartsWith(dir.File("tok512.bin") + ":", e.Message);
    }
}
