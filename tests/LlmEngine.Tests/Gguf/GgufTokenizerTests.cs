using LlmEngine.Kernels.Loading.Gguf;
using LlmEngine.Kernels.Tokenizers;
using LlmEngine.Tests.Tokenizers;

namespace LlmEngine.Tests.Gguf;

/// <summary>The SentencePiece vocabulary stored in the stories260K GGUF encodes and decodes as the llama2.c
/// tokenizer of the same model does, plus what GGUF adds: control tokens written in text.</summary>
public class GgufTokenizerTests
{
    private static readonly ITokenizer FromGguf = Load("stories260K-f32.gguf");
    private static readonly Llama2cTokenizer Tok512 = Llama2cTokenizer.Load(SharedFiles.Tok512, 512);

    private static ITokenizer Load(string file)
    {
        using var gguf = GgufFile.Open(GgufReference.ModelPath(file));
        return GgufTokenizer.Load(gguf)!;
    }

    public static TheoryData<string> Texts() => new()
    {
        "Once upon a time", "Lily and Tom went to the park", "  two leading spaces", "tabs\tand\nnewlines\n",
        "Unicode: café, naïve, 日本語 and emoji 🙂", "", "x", "The end.",
    };

    [Theory]
    [MemberData(nameof(Texts))]
    public void EncodesAsTheLlama2cTokenizerOfTheSameModel(string text) =>
        Assert.Equal(Tok512.Encode(text), FromGguf.Encode(text));

    [Theory]
    [MemberData(nameof(Texts))]
    public void DecodesWhatItEncodes(string text) =>
        Assert.Equal(text, FromGguf.Decode(FromGguf.Encode(text)));

    [Fact]
    public void BosAndEosComeFromTheMetadata() =>
        Assert.Equal((1, 2, 512), (FromGguf.BosTokenId, FromGguf.EosTokenId, FromGguf.VocabSize));

    [Fact]
    public void ControlTokenWrittenInTextIsItsId()
    {
        var ids = FromGguf.Encode("Hi</s>");
        Assert.Equal(2, ids[^1]);
        Assert.Equal(Tok512.Encode("Hi"), ids[..^1]);
        Assert.True(FromGguf.IsSpecial(2));
        Assert.Equal("Hi", FromGguf.Decode(ids));
    }
}
