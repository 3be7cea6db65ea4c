using System.Globalization;
using System.IO.Compression;
using System.Text;
using LlmEngine.Kernels.Tokenizers.Unicode;
using LlmEngine.Tests.Chat;

namespace LlmEngine.Tests.Tokenizers;

/// <summary>The four normalization forms agree with Python's unicodedata (Unicode 15.1) on every
/// character that decomposes, combines or is a Hangul jamo, alone and between a letter and two marks
/// (Fixtures/unicode-normalization.txt.gz, written by Python 3.13).</summary>
public class UnicodeNormalizerTests
{
    private static readonly NormalizationForm[] Forms =
        [NormalizationForm.FormC, NormalizationForm.FormD, NormalizationForm.FormKC, NormalizationForm.FormKD];

    [Theory]
    [InlineData("Cafe\u0301", "Caf\u00e9")]                       // a letter and its mark become one
    [InlineData("Vie\u0323\u0302t", "Vi\u1ec7t")]                 // marks sorted by class, then composed
    [InlineData("\u212b", "\u00c5")]                              // a singleton (Angstrom sign) maps to its letter
    [InlineData("\u0958", "\u0915\u093c")]                        // a composition exclusion stays decomposed
    [InlineData("\u1112\u1161\u11ab", "\ud55c")]                  // conjoining jamo become a syllable
    [InlineData("a\u0301\u0301", "\u00e1\u0301")]                 // the second acute is blocked by the first
    [InlineData("\ufb01 \u2460", "\ufb01 \u2460")]                // compatibility forms are kept by NFC
    [InlineData("e\u0301\U0001F600", "\u00e9\U0001F600")]         // surrogate pairs pass through
    [InlineData("x\ud800y", "x\ud800y")]                          // so does an unpaired surrogate
    public void NfcComposesAsUnicodeSays(string text, string expected) =>
        Assert.Equal(expected, UnicodeNormalizer.Normalize(text, NormalizationForm.FormC));

    [Theory]
    [InlineData("\ufb01 \u2460 \uff21 x\u00b2", "fi 1 A x2")]
    [InlineData("\u320e", "(\uac00)")]                            // a compatibility mapping to jamo composes to a syllable
    public void NfkcAlsoReplacesCompatibilityCharacters(string text, string expected) =>
        Assert.Equal(expected, UnicodeNormalizer.Normalize(text, NormalizationForm.FormKC));

    [Fact]
    public void EveryFormMatchesPythonsUnicodedataOnEveryCharacterThatNormalizes()
    {
        using var file = new GZipStream(File.OpenRead(Fixture("unicode-normalization.txt.gz")), CompressionMode.Decompress);
        using var reader = new StreamReader(file);
        int checkedLines = 0;
        var failures = new List<string>();
        while (reader.ReadLine() is { } line)
        {
            if (line.StartsWith('#')) continue;
            var columns = line.Split(';').Select(Text).ToArray();
            for (int f = 0; f < Forms.Length; f++)
            {
                string actual = UnicodeNormalizer.Normalize(columns[0], Forms[f]);
                if (actual != columns[f + 1] && failures.Count < 10) failures.Add($"{Forms[f]} of {line.Split(';')[0]}: {Hex(actual)}, expected {line.Split(';')[f + 1]}");
            }
            checkedLines++;
        }
        Assert.Empty(failures);
        Assert.True(checkedLines > 14_000, $"{checkedLines} lines");
    }

    [Fact]
    public void AsciiTextIsReturnedAsItIs()
    {
        string text = "plain ASCII text, 42!";
        Assert.Same(text, UnicodeNormalizer.Normalize(text, NormalizationForm.FormKC));
    }

    internal static string Fixture(string name) => Path.Combine(TestFiles.RepoRoot, "tests", "LlmEngine.Tests", "Tokenizers", "Fixtures", name);

    private static string Text(string hex) =>
        string.Concat(hex.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(h => char.ConvertFromUtf32(int.Parse(h, NumberStyles.HexNumber, CultureInfo.InvariantCulture))));

    private static string Hex(string text) =>
        string.Join(' ', text.EnumerateRunes().Select(r => r.Value.ToString("X", CultureInfo.InvariantCulture)));
}
