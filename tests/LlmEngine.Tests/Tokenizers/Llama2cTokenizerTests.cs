using System.Diagnostics;
using System.Text.Json;
using CsCheck;
using LlmEngine.Kernels.Loading;
using LlmEngine.Kernels.Tokenizers;

namespace LlmEngine.Tests.Tokenizers;

public class Llama2cTokenizerTests
{
    private static readonly Llama2cTokenizer Tok512 = Llama2cTokenizer.Load(SharedFiles.Tok512, 512);

    private sealed record ReferenceRow(string Prompt, int[] PromptTokenIds, int[] GeneratedTokenIds, string Text);

    private static readonly ReferenceRow[] Rows = JsonSerializer.Deserialize<ReferenceRow[]>(
        File.ReadAllText(SharedFiles.Path("reference", "stories260K-greedy.json")),
        new JsonSerializerOptions { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower })!;

    public static TheoryData<int> RowIndexes => new(Enumerable.Range(0, Rows.Length));

    [Fact]
    public void OnceUponATimeEncodesAsRunCDoes() =>
        Assert.Equal([1, 403, 407, 261, 378], Tok512.Encode("Once upon a time"));

    [Theory]
    [MemberData(nameof(RowIndexes))]
    public void ReferencePromptEncodesToItsRecordedIds(int row) =>
        Assert.Equal(Rows[row].PromptTokenIds, Tok512.Encode(Rows[row].Prompt));

    // Every row's text is printable or whitespace (newlines come from byte token 13), so run.c
    // dropped nothing when printing it and no row needs skipping.
    [Theory]
    [MemberData(nameof(RowIndexes))]
    public void ReferenceContinuationDecodesToItsPrintedText(int row)
    {
        ReferenceRow r = Rows[row];
        string prompt = Tok512.Decode(r.PromptTokenIds);
        string all = Tok512.Decode([.. r.PromptTokenIds, .. r.GeneratedTokenIds]);
        Assert.Equal(r.Text, all[prompt.Length..]);
    }

    [Fact]
    public void NewlineHasNoPieceAndFallsBackToItsByteToken() =>
        Assert.Equal([1, 410, 13], Tok512.Encode("\n"));

    [Fact]
    public void EncodeWithoutSpecialTokensStartsWithTheDummyPrefix() =>
        Assert.Equal([403, 407, 261, 378], Tok512.Encode("Once upon a time", addSpecialTokens: false));

    [Fact]
    public void EmptyTextEncodesToBosAlone() =>
        Assert.Equal([1], Tok512.Encode(""));

    [Fact]
    public void EosIsNeverAdded() =>
        Assert.DoesNotContain(2, Tok512.Encode("The end."));

    [Fact]
    public void DecodeSkipsBosAndEosAndDropsTheSpaceAfterBos() =>
        Assert.Equal("Once upon", Tok512.Decode([1, 403, 407, 2]));

    [Fact]
    public void DecodeKeepsSpecialTokenPiecesWhenAsked() =>
        Assert.Equal("\n<s>\nOnce\n</s>\n", Tok512.Decode([1, 403, 2], skipSpecialTokens: false));

    [Fact]
    public void RandomAsciiRoundTrips() =>
        Gen.Char['\u0001', '\u007F'].Array[0, 80].Select(chars => new string(chars))
            .Sample(text => Assert.Equal(text, Tok512.Decode(Tok512.Encode(text))));

    [Fact]
    public void MultiByteTextRoundTrips()
    {
        string[] parts = ["é", "“", "”", "’", "…", "😀", "中", "a", " ", "Lily", "\n", "ñ", "€"];
        Gen.Int[0, parts.Length - 1].Array[0, 30].Select(picks => string.Concat(picks.Select(i => parts[i])))
            .Sample(text => Assert.Equal(text, Tok512.Decode(Tok512.Encode(text))));
    }

    [Fact]
    public void EmojiWithoutAPieceBecomesItsFourByteTokens() =>
        Assert.Equal([1, 410, 0xF0 + 3, 0x9F + 3, 0x98 + 3, 0x80 + 3], Tok512.Encode("😀"));

    [Fact]
    public void FourHundredTokenPromptEncodesQuickly()
    {
        string prompt = string.Concat(Enumerable.Repeat(Rows[1].Prompt + ". ", 60));
        Tok512.Encode("warm up");
        var clock = Stopwatch.StartNew();
        int[] ids = Tok512.Encode(prompt);
        clock.Stop();
        Assert.True(ids.Length >= 400 && clock.ElapsedMilliseconds < 1000, $"{ids.Length} tokens in {clock.ElapsedMilliseconds} ms");
    }

    [Fact]
    public void TruncatedFileFailsNamingIt()
    {
        using var dir = new TempDir();
        string path = dir.File("tok512.bin");
        File.WriteAllBytes(path, File.ReadAllBytes(SharedFiles.Tok512)[..3000]);
        var e = Assert.Throws<ModelLoadException>(() => Llama2cTokenizer.Load(path, 512));
        Assert.StartsWith(path + ": truncated", e.Message);
    }

    [Fact]
    public void FileWithMoreTokensThanTheModelFailsNamingIt()
    {
        var e = Assert.Throws<ModelLoadException>(() => Llama2cTokenizer.Load(SharedFiles.Tok512, 300));
        Assert.StartsWith(SharedFiles.Tok512 + ":", e.Message);
    }
}
