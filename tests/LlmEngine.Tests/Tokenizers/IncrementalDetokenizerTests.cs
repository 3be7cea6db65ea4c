using System.Text.Json;
using LlmEngine.Kernels.Tokenizers;

namespace LlmEngine.Tests.Tokenizers;

public class IncrementalDetokenizerTests
{
    private static readonly Llama2cTokenizer Tok512 = Llama2cTokenizer.Load(SharedFiles.Tok512, 512);
    private static readonly HuggingFaceTokenizer SentencePiece = Load(TinyTokenizerJson.SentencePiece());
    private static readonly HuggingFaceTokenizer ByteLevel = Load(TinyTokenizerJson.ByteLevel());

    private static HuggingFaceTokenizer Load(string json)
    {
        using TempDir dir = TinyTokenizerJson.Directory(json);
        return HuggingFaceTokenizer.Load(dir.Path);
    }

    private static string Stream(ITokenizer tokenizer, int[] prompt, int[] generated, out List<string> pieces)
    {
        var detokenizer = new IncrementalDetokenizer(tokenizer, prompt);
        pieces = generated.Select(detokenizer.Append).ToList();
        pieces.Add(detokenizer.Flush());
        return string.Concat(pieces);
    }

    private static string GeneratedPart(ITokenizer tokenizer, int[] prompt, int[] generated) =>
        tokenizer.Decode([.. prompt, .. generated])[tokenizer.Decode(prompt).Length..];

    public static TheoryData<int[], int[]> Continuations()
    {
        var data = new TheoryData<int[], int[]>();
        using var reference = JsonDocument.Parse(File.ReadAllText(SharedFiles.Path("reference", "stories260K-greedy.json")));
        foreach (JsonElement row in reference.RootElement.EnumerateArray())
            data.Add(row.GetProperty("prompt_token_ids").Deserialize<int[]>()!, row.GetProperty("generated_token_ids").Deserialize<int[]>()!);
        data.Add([1], [403, 407, 261, 378]); // generation right after BOS loses the first space
        return data;
    }

    [Theory]
    [MemberData(nameof(Continuations))]
    public void StreamedPiecesJoinToTheDecodedContinuation(int[] prompt, int[] generated) =>
        Assert.Equal(GeneratedPart(Tok512, prompt, generated), Stream(Tok512, prompt, generated, out _));

    [Fact]
    public void ContinuationKeepsTheSpaceThatADecoderStripsAtTheStart() =>
        Assert.Equal(" cat", new IncrementalDetokenizer(SentencePiece, [1, 268]).Append(271));

    [Fact]
    public void CharacterSplitOverByteTokensIsHeldUntilComplete()
    {
        int[] generated = [259, 0xC3 + 3, 0xA9 + 3, 271]; // "▁", é as two bytes, "▁cat"
        Stream(SentencePiece, [1, 268], generated, out List<string> pieces);
        Assert.Equal([" ", "", "é", " cat", ""], pieces);
    }

    [Fact]
    public void EmojiOverFourByteLevelTokensIsEmittedWhole()
    {
        int[] generated = [0xF0, 0x9F, 0x98, 0x80, 261]; // 😀 then "hello"
        Stream(ByteLevel, [261], generated, out List<string> pieces);
        Assert.Equal(["", "", "", "😀", "hello", ""], pieces);
    }

    [Fact]
    public void FlushReleasesAnIncompleteTail()
    {
        var detokenizer = new IncrementalDetokenizer(SentencePiece, [1, 268]);
        detokenizer.Append(0xC3 + 3);
        Assert.Equal("\uFFFD", detokenizer.Flush());
    }

    [Fact]
    public void TextIsEverythingEmittedSoFar()
    {
        var detokenizer = new IncrementalDetokenizer(Tok512, [1, 403]);
        foreach (int id in new[] { 407, 261, 378 })
            detokenizer.Append(id);
        Assert.Equal(" upon a time", detokenizer.Text);
    }

    [Fact]
    public void EachStepDecodesAShortWindowNotTheWholeSequence()
    {
        var counting = new CountingTokenizer(Tok512);
        var detokenizer = new IncrementalDetokenizer(counting, Enumerable.Repeat(403, 300).ToArray());
        for (int i = 0; i < 1000; i++)
            detokenizer.Append(i % 2 == 0 ? 407 : 378);
        Assert.InRange(counting.LongestDecode, 1, 8);
    }

    private sealed class CountingTokenizer(ITokenizer inner) : ITokenizer
    {
        public int LongestDecode { get; private set; }
        public int VocabSize => inner.VocabSize;
        public int? BosTokenId => inner.BosTokenId;
        public int? EosTokenId => inner.EosTokenId;
        public int[] Encode(string text, bool addSpecialTokens = true) => inner.Encode(text, addSpecialTokens);
        public bool IsSpecial(int id) => inner.IsSpecial(id);
        public byte[] TokenBytes(int id) => inner.TokenBytes(id);

        public string Decode(IReadOnlyList<int> ids, bool skipSpecialTokens = true)
        {
            LongestDecode = Math.Max(LongestDecode, ids.Count);
            return inner.Decode(ids, skipSpecialTokens);
        }
    }
}
