using System.Text;
using LlmEngine.Kernels.Structured;

namespace LlmEngine.Tests.Structured;

/// <summary>Small vocabularies and walks for the guided-decoding tests.</summary>
public static class Guides
{
    public const int Eos = 0;

    /// <summary>EOS (id 0), every byte as a token, then multi-byte tokens that cross JSON's and
    /// regexes' boundaries (quote plus comma, digits plus brace, ...) so that context matters.</summary>
    public static TokenVocabulary Vocabulary { get; } = TokenVocabulary.Of(
        new[] { Array.Empty<byte>() }
            .Concat(Enumerable.Range(0, 256).Select(b => new[] { (byte)b }))
            .Concat(new[]
            {
                "{\"", "\":", "\",", "\"}", " \"", "true", "false", "null", "\"a", "1,", "}]", "]}", "},", "ab", "abc", "\"na", "me\"",
                "12", "0.", "-1", "e+", "\":\"", "\"}}", "\"]", "[\"", "[{", "x\"", "yes", "no", "foo", "bar", "a1", "  ", "\n ",
                "\\u00", "\\n", "é", "ñ", "日本", "\"é", ", \"", ": ", "id", "ag", "e\":", "},{\"",
            }.Select(Encoding.UTF8.GetBytes))
            .ToList(), Eos);

    public static TokenGuide Compile(GuideSpec spec) => new(GrammarAutomaton.Compile(spec.ToGrammar()), Vocabulary);

    /// <summary>Whether the whole text satisfies the constraint.</summary>
    public static bool Accepts(TokenGuide guide, string text) => guide.Advance(guide.Initial, Encoding.UTF8.GetBytes(text)).CanEnd;

    public static IEnumerable<int> Allowed(TokenGuide guide, GuideState state)
    {
        var mask = guide.Mask(state);
        for (int t = 0; t < guide.Vocabulary.Size; t++)
            if ((mask[t >> 6] >> (t & 63) & 1) != 0) yield return t;
    }

    /// <summary>Samples allowed tokens uniformly until the end token or <paramref name="maxTokens"/>;
    /// the text, and whether it ended by the end token.</summary>
    public static (string Text, bool Ended) Walk(TokenGuide guide, Random random, int maxTokens = 400, Action<GuideState>? check = null)
    {
        var state = guide.Initial;
        var bytes = new List<byte>();
        for (int i = 0; i < maxTokens; i++)
        {
            check?.Invoke(state);
            var allowed = Allowed(guide, state).ToList();
            Assert.NotEmpty(allowed);
            // Lean towards ending so that walks finish: an allowed end token is taken half the time.
            int token = allowed.Contains(Eos) && random.Next(2) == 0 ? Eos : allowed[random.Next(allowed.Count)];
            if (token == Eos) return (Encoding.UTF8.GetString(bytes.ToArray()), true);
            bytes.AddRange(guide.Vocabulary.Bytes[token]);
            state = guide.Advance(state, token);
        }
        return (Encoding.UTF8.GetString(bytes.ToArray()), false);
    }
}
