using System.Text;
using LlmEngine.Kernels.Structured;

namespace LlmEngine.Host.Bench;

/// <summary>
/// A vocabulary shaped like a SentencePiece BPE one, for models that come without a tokenizer
/// (<c>config/models/llama-110m</c> has 32,000 logits and no tokenizer): ids 0-2 are unk, BOS and
/// EOS (no text; EOS ends), 3-258 the 256 byte-fallback tokens, then JSON punctuation pieces and
/// distinct word pieces (most with a leading space, some capitalised, some digit runs) drawn with
/// English letter frequencies. What a mask costs depends on how many tokens can start in a
/// state, which this shape reproduces; exact figures for a real tokenizer need that tokenizer.
/// </summary>
internal static class SyntheticVocabulary
{
    public const int Eos = 2;
    private const string Letters = "eeeeeeeeeeeetttttttttaaaaaaaaooooooooiiiiiiinnnnnnnsssssshhhhhhrrrrrrddddllllcccuuummwwffggyyppbbvkjxqz";
    private static readonly string[] Punctuation =
    [
        "\"", "\":", "\": ", "\",", "\", \"", "{\"", "{", "}", "},", "}}", "[", "]", "],", "[{", "}]", ":", ",", ", ", ".", "\n", "\n  ",
        "\n    ", "  ", "    ", "\\n", "\\\"", "true", "false", "null", " true", " false", " null", "-", "_", "'s", "(", ")", "!", "?",
    ];

    public static TokenVocabulary Create(int size, int seed = 0)
    {
        int fixedCount = 3 + 256 + Punctuation.Length;
        if (size < fixedCount) throw new ArgumentException($"a synthetic vocabulary needs at least {fixedCount} tokens, got {size}");
        var tokens = new List<byte[]>(size) { Array.Empty<byte>(), Array.Empty<byte>(), Array.Empty<byte>() };
        for (int b = 0; b < 256; b++) tokens.Add([(byte)b]);
        var seen = new HashSet<string>(Punctuation, StringComparer.Ordinal);
        tokens.AddRange(Punctuation.Select(Encoding.UTF8.GetBytes));
        var random = new Random(seed);
        while (tokens.Count < size)
        {
            var piece = Piece(random);
            if (seen.Add(piece)) tokens.Add(Encoding.UTF8.GetBytes(piece));
        }
        return TokenVocabulary.Of(tokens, Eos);
    }

    private static string Piece(Random random)
    {
        var text = new StringBuilder();
        if (random.NextDouble() < 0.6) text.Append(' ');
        if (random.NextDouble() < 0.05)
        {
            for (int i = random.Next(1, 4); i > 0; i--) text.Append((char)('0' + random.Next(10)));
            return text.ToString();
        }
        int length = 1 + (int)Math.Min(11, -Math.Log(1 - random.NextDouble()) * 3.5);
        for (int i = 0; i < length; i++)
        {
            char c = Letters[random.Next(Letters.Length)];
            text.Append(i == 0 && random.NextDouble() < 0.12 ? char.ToUpperInvariant(c) : c);
        }
        return text.ToString();
    }
}
