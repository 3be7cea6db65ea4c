using CsCheck;
using LlmEngine.Kernels.Loading;
using LlmEngine.Kernels.Tokenizers;

namespace LlmEngine.Tests.Tokenizers;

/// <summary>Expected ids follow from the BPE rules and the vocabularies documented on
/// <see cref="TinyTokenizerJson"/>; they agree with Hugging Face tokenizers 0.23 on these files.</summary>
public class HuggingFaceTokenizerTests
{
    private static HuggingFaceTokenizer Load(string json, string? config = null)
    {
        using TempDir dir = TinyTokenizerJson.Directory(json, config);
        return HuggingFaceTokenizer.Load(dir.Path);
    }

    private static readonly HuggingFaceTokenizer ByteLevel = Load(TinyTokenizerJson.ByteLevel());
    private static readonly HuggingFaceTokenizer SentencePiece = Load(TinyTokenizerJson.SentencePiece());

    private static readonly string[] TextParts = ["the", " cat", "hello", " ", "  ", "\n", "é", "“", "😀", "中", "'s", "42", ".", "lll", "x"];
    private static readonly Gen<string> Texts =
        Gen.Int[0, TextParts.Length - 1].Array[0, 12].Select(picks => string.Concat(picks.Select(i => TextParts[i])));

    // Byte-level BPE (GPT-2 / OPT / LLaMA-3 style)

    [Fact]
    public void ByteLevelMergesLowestRankFirstWithinEachGpt2Split() =>
        // "hello" | " the" | " café": Ġ+t before h+e before Ġt+he; Ã+© (rank 6) before c+a (rank 7)
        Assert.Equal([261, 258, 32, 263, 102, 262], ByteLevel.Encode("hello the café"));

    [Fact]
    public void ByteLevelTakesTheLeftmostOfEqualRankPairs() =>
        Assert.Equal([259, 'l'], ByteLevel.Encode("lll"));

    [Fact]
    public void ByteLevelSplitsContractionsAndNewlinesBeforeMerging() =>
        Assert.Equal([257, '\'', 's', '\n', 't', 257], ByteLevel.Encode("he's\nthe"));

    [Fact]
    public void AddedTokenWrittenInTextBecomesItsId() =>
        Assert.Equal(['h', 'i', 264, 't', 257], ByteLevel.Encode("hi<|endoftext|>the"));

    [Fact]
    public void ByteLevelAddsNoBos() =>
        Assert.Equal([261], ByteLevel.Encode("hello", addSpecialTokens: true));

    [Fact]
    public void ByteLevelDecodeRoundTrips() =>
        Texts.Sample(text => Assert.Equal(text, ByteLevel.Decode(ByteLevel.Encode(text))));

    [Fact]
    public void DecodeSkipsSpecialTokensUnlessAsked() =>
        Assert.Equal(("hello", "hello<|endoftext|>"), (ByteLevel.Decode([261, 264]), ByteLevel.Decode([261, 264], skipSpecialTokens: false)));

    private static readonly HuggingFaceTokenizer ByteLevelWithConfig = Load(TinyTokenizerJson.ByteLevel(),
        """{"bos_token": "<|endoftext|>", "eos_token": {"__type": "AddedToken", "content": "<|endoftext|>"}}""");

    [Fact]
    public void ConfigNamesBosAndEosAsStringOrAddedToken() =>
        Assert.Equal((264, 264), (ByteLevelWithConfig.BosTokenId, ByteLevelWithConfig.EosTokenId));

    [Fact]
    public void ConfigNamingBosDoesNotMakeGpt2AddIt() =>
        Assert.Equal([261], ByteLevelWithConfig.Encode("hello"));

    // SentencePiece-style BPE with byte fallback (LLaMA-1/2 / Mistral style)

    [Fact]
    public void SentencePieceAddsBosAndMarksWordStarts() =>
        Assert.Equal([1, 268, 271], SentencePiece.Encode("the cat"));

    [Fact]
    public void CharacterOutsideTheVocabularyFallsBackToItsUtf8ByteTokens() =>
        Assert.Equal([1, 268, 271, 259, 0xC3 + 3, 0xA9 + 3], SentencePiece.Encode("the cat é"));

    [Fact]
    public void LiteralBosIsSplitOutAndEachSideIsNormalizedOnItsOwn() =>
        Assert.Equal([1, 268, 1, 271], SentencePiece.Encode("the<s>cat"));

    [Fact]
    public void SentencePieceWithoutSpecialTokensHasNoBos() =>
        Assert.Equal([268, 271], SentencePiece.Encode("the cat", addSpecialTokens: false));

    [Fact]
    public void SentencePieceDecodeJoinsBytesAndRestoresSpaces() =>
        Assert.Equal("the cat é", SentencePiece.Decode([1, 268, 271, 259, 0xC3 + 3, 0xA9 + 3]));

    [Fact]
    public void IncompleteByteSequenceDecodesToAReplacementCharacter() =>
        Assert.Equal("the\uFFFD", SentencePiece.Decode([268, 0xC3 + 3]));

    [Fact]
    public void SentencePieceDecodeRoundTrips() =>
        Texts.Sample(text => Assert.Equal(text, SentencePiece.Decode(SentencePiece.Encode(text))));

    [Fact]
    public void ConfigAddBosAndAddEosReplaceTheTemplate()
    {
        var tokenizer = Load(TinyTokenizerJson.SentencePiece(),
            """{"bos_token": "<s>", "eos_token": "</s>", "add_bos_token": false, "add_eos_token": true}""");
        Assert.Equal([268, 271, 2], tokenizer.Encode("the cat"));
    }

    private static readonly HuggingFaceTokenizer Metaspace = Load(TinyTokenizerJson.SentencePiece(metaspace: true));

    [Fact]
    public void MetaspaceMarksSpacesAndTheStartOfTheText() =>
        Assert.Equal([1, 268, 271], Metaspace.Encode("the cat"));

    [Fact]
    public void MetaspaceFirstSchemeDoesNotMarkTextAfterAnAddedToken() =>
        Assert.Equal([1, 1, 260, 267], Metaspace.Encode("<s>the"));

    [Fact]
    public void TemplateBosIsTheBosTokenWithoutAConfig() =>
        Assert.Equal(1, SentencePiece.BosTokenId);

    // Errors

    [Fact]
    public void MergeOfATokenOutsideTheVocabularyFailsNamingTheFile()
    {
        using TempDir dir = TinyTokenizerJson.Directory(TinyTokenizerJson.ByteLevel().Replace("\"c a\"", "\"c zz\""));
        var e = Assert.Throws<ModelLoadException>(() => HuggingFaceTokenizer.Load(dir.Path));
        Assert.StartsWith(dir.File("tokenizer.json") + ":", e.Message);
    }

    [Fact]
    public void UnsupportedModelTypeFailsSayingSo()
    {
        using TempDir dir = TinyTokenizerJson.Directory(TinyTokenizerJson.ByteLevel().Replace("\"type\":\"BPE\"", "\"type\":\"WordPiece\""));
        var e = Assert.Throws<ModelLoadException>(() => HuggingFaceTokenizer.Load(dir.Path));
        Assert.Equal($"{dir.File("tokenizer.json")}: model 'WordPiece' is not supported", e.Message);
    }

    [Fact]
    public void MalformedConfigFailsNamingIt()
    {
        using TempDir dir = TinyTokenizerJson.Directory(TinyTokenizerJson.SentencePiece(), "{ not json");
        var e = Assert.Throws<ModelLoadException>(() => HuggingFaceTokenizer.Load(dir.Path));
        Assert.StartsWith(dir.File("tokenizer_config.json") + ":", e.Message);
    }
}
