using System.Text;
using CsCheck;
using LlmEngine.Kernels.Tokenizers;

namespace LlmEngine.Tests.Tokenizers;

/// <summary>The SentencePiece merge (llama2.c and GGUF <c>llama</c> vocabularies) is run.c's result
/// found in O(n log n): equal to run.c's quadratic scan on any text, fast on a text the scan would
/// take hours over, and stopped by cancellation.</summary>
public class BoundedEncodingTests
{
    private static readonly Llama2cTokenizer Tok512 = Llama2cTokenizer.Load(SharedFiles.Tok512, 512);
    private static readonly RunCReference Reference = new(SharedFiles.Tok512, 512);

    [Fact]
    public void EncodesAsRunCsQuadraticScanOnRandomText()
    {
        // Repeats and shared stems make many equal-scored candidates, where the leftmost must win.
        string[] parts = ["a", "aa", " ", "the", " the", "Lily", "ing", "é", "😀", "\n", ".", "Once upon a time", "oo", "ll"];
        Gen.Int[0, parts.Length - 1].Array[0, 60].Select(picks => string.Concat(picks.Select(i => parts[i])))
            .Sample(text => Assert.Equal(Reference.Encode(text), Tok512.Encode(text)), iter: 300);
    }

    [Fact]
    public async Task HalfAMegabyteWithoutSpacesEncodesInSecondsNotMinutes()
    {
        // run.c's scan rescans every pair after each merge: ~7 s for 128 KB, minutes for this.
        var text = string.Concat(Enumerable.Repeat("Lilyandthebigdogplayedinthepark", 20_000));
        var ids = await Task.Run(() => Tok512.Encode(text)).WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(text, Tok512.Decode(ids));
        // The 512-piece vocabulary merges these letters into about two thirds as many tokens.
        Assert.True(ids.Length < text.Length * 3 / 4, $"{ids.Length} tokens for {text.Length} characters: the merges did not run");
    }

    [Fact]
    public void EncodingStopsWhenCancelled()
    {
        var text = new string('a', 1_000_000);
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();
        Assert.ThrowsAny<OperationCanceledException>(() => ((ITokenizer)Tok512).Encode(text, true, cancelled.Token));
    }

    [Fact]
    public void ATextLongerThanTheContextCouldHoldIsRefusedBeforeTokenizing()
    {
        int perToken = TokenizerBounds.MaxCharsPerToken(Tok512);
        LlmEngine.Actors.Engine.RequestValidation.PromptText(new string('a', 512 * perToken), Tok512, 512);
        var e = Assert.Throws<ArgumentException>(() =>
            LlmEngine.Actors.Engine.RequestValidation.PromptText(new string('a', 512 * perToken + 1), Tok512, 512));
        Assert.Equal("prompt", e.ParamName);
        Assert.Contains("characters", e.Message);
    }

    /// <summary>run.c's <c>encode</c>, read straight from the tokenizer file: the dummy prefix, one
    /// piece per codepoint or its byte tokens, then the best-scored pair merged (leftmost on ties)
    /// until none is a piece; BOS first.</summary>
    private sealed class RunCReference
    {
        private readonly byte[][] _pieces;
        private readonly float[] _scores;
        private readonly Dictionary<string, int> _ids = new(StringComparer.Ordinal);

        public RunCReference(string path, int size)
        {
            using var reader = new BinaryReader(File.OpenRead(path));
            reader.ReadInt32(); // max_token_length
            _pieces = new byte[size][];
            _scores = new float[size];
            for (int i = 0; i < size; i++)
            {
                _scores[i] = reader.ReadSingle();
                _pieces[i] = reader.ReadBytes(reader.ReadInt32());
                _ids.TryAdd(Encoding.Latin1.GetString(_pieces[i]), i);
            }
        }

        public int[] Encode(string text)
        {
            var utf8 = Encoding.UTF8.GetBytes(text);
            var ids = new List<int>();
            if (utf8.Length > 0) ids.Add(_ids[" "]);
            for (int i = 0; i < utf8.Length;)
            {
                int length = 1;
                while (length < 4 && i + length < utf8.Length && (utf8[i + length] & 0xC0) == 0x80) length++;
                if (_ids.TryGetValue(Encoding.Latin1.GetString(utf8, i, length), out int id)) ids.Add(id);
                else for (int k = 0; k < length; k++) ids.Add(utf8[i + k] + 3);
                i += length;
            }
            while (true)
            {
                int best = -1, bestId = -1;
                float bestScore = -1e10f;
                for (int i = 0; i + 1 < ids.Count; i++)
                {
                    var pair = Encoding.Latin1.GetString([.. _pieces[ids[i]], .. _pieces[ids[i + 1]]]);
                    if (_ids.TryGetValue(pair, out int id) && _scores[id] > bestScore)
                        (best, bestId, bestScore) = (i, id, _scores[id]);
                }
                if (best < 0) break;
                ids[best] = bestId;
                ids.RemoveAt(best + 1);
            }
            return [1, .. ids];
        }
    }
}
