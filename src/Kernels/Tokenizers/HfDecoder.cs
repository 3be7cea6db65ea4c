using System.Text;
using System.Text.Json;

namespace LlmEngine.Kernels.Tokenizers;

/// <summary>tokenizer.json's <c>decoder</c>: a chain of steps over the token strings, then
/// concatenation (a missing decoder joins with spaces, as Hugging Face does). Written here
/// because Microsoft.ML.Tokenizers decodes only its own models and drops an incomplete UTF-8
/// tail where Hugging Face yields U+FFFD, which streaming relies on to hold text back.</summary>
internal static class HfDecoder
{
    public static Func<List<string>, string> Parse(JsonElement? spec)
    {
        if (spec is not { } s)
            return tokens => string.Join(' ', tokens);
        Func<List<string>, List<string>> chain = Step(s);
        return tokens => string.Concat(chain(tokens));
    }

    private static Func<List<string>, List<string>> Step(JsonElement s)
    {
        switch (s.Type())
        {
            case "Sequence":
                var steps = s.Req("decoders").EnumerateArray().Select(Step).ToArray();
                return tokens => steps.Aggregate(tokens, (t, step) => step(t));
            case "ByteLevel":
                return tokens => [ByteLevel(tokens)];
            case "Replace":
                var pattern = s.Pattern("pattern");
                string content = s.Str("content");
                return tokens => tokens.ConvertAll(t => pattern.Replace(t, _ => content));
            case "ByteFallback":
                return ByteFallback;
            case "Fuse":
                return tokens => [string.Concat(tokens)];
            case "Strip":
                char strip = s.Str("content")[0];
                int start = s.Req("start").GetInt32(), stop = s.Req("stop").GetInt32();
                return tokens => tokens.ConvertAll(t => Strip(t, strip, start, stop));
            case "Metaspace":
                char mark = s.Str("replacement")[0];
                string scheme = s.Opt("prepend_scheme")?.GetString() ?? (s.Bool("add_prefix_space", true) ? "always" : "never");
                return tokens => tokens.Select((t, i) => Metaspace(t, mark, dropMarks: i == 0 && scheme != "never")).ToList();
            default:
                throw JsonSpec.Unsupported("decoder", s);
        }
    }

    /// <summary>Alphabet characters back to bytes; a token with a character outside the
    /// alphabet (an added token) contributes its own UTF-8. Invalid UTF-8 becomes U+FFFD.</summary>
    private static string ByteLevel(List<string> tokens)
    {
        var bytes = new List<byte>();
        foreach (string token in tokens)
        {
            if (token.All(ByteLevelAlphabet.CharToByte.ContainsKey))
                bytes.AddRange(token.Select(c => ByteLevelAlphabet.CharToByte[c]));
            else
                bytes.AddRange(Encoding.UTF8.GetBytes(token));
        }
        return Encoding.UTF8.GetString(bytes.ToArray());
    }

    /// <summary>Runs of <c>&lt;0xHH&gt;</c> tokens become the text of their bytes; a run that is
    /// not valid UTF-8 becomes one U+FFFD per byte, as Hugging Face writes it.</summary>
    private static List<string> ByteFallback(List<string> tokens)
    {
        var result = new List<string>(tokens.Count);
        var run = new List<byte>();
        foreach (string token in tokens)
        {
            if (token.Length == 6 && token.StartsWith("<0x", StringComparison.Ordinal) && token[5] == '>'
                && byte.TryParse(token.AsSpan(3, 2), System.Globalization.NumberStyles.HexNumber, null, out byte b))
            {
                run.Add(b);
                continue;
            }
            Flush(run, result);
            result.Add(token);
        }
        Flush(run, result);
        return result;

        static void Flush(List<byte> run, List<string> result)
        {
            if (run.Count == 0)
                return;
            try
            {
                result.Add(StrictUtf8.GetString(run.ToArray()));
            }
            catch (DecoderFallbackException)
            {
                result.Add(new string('\uFFFD', run.Count));
            }
            run.Clear();
        }
    }

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>Removes up to <paramref name="start"/> leading and <paramref name="stop"/>
    /// trailing <paramref name="c"/>.</summary>
    private static string Strip(string token, char c, int start, int stop)
    {
        int from = 0;
        while (from < start && from < token.Length && token[from] == c)
            from++;
        int to = token.Length;
        while (token.Length - to < stop && to > from && token[to - 1] == c)
            to--;
        return token[from..to];
    }

    /// <summary>Marks become spaces; in the first token they are dropped instead (Hugging Face
    /// drops every mark there, not just the prepended one).</summary>
    private static string Metaspace(string token, char mark, bool dropMarks) =>
        dropMarks ? token.Replace(mark.ToString(), "") : token.Replace(mark, ' ');
}
