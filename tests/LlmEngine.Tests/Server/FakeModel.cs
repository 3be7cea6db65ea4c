using LlmEngine.Kernels.Sampling;
using LlmEngine.Scheduling;

namespace LlmEngine.Tests.Server;

/// <summary>
/// A deterministic "model" for server tests. Choice j of a prompt repeats the prompt's text tokens
/// (BOS and other specials left out) starting at token j: "abc" gives "abcabc..." for choice 0 and
/// "bcabca..." for choice 1. After a '.' it emits EOS (unless ignore_eos, or before min_tokens).
/// Stop token ids and stop strings end a choice with "stop"; max_tokens with "length". Token k's
/// log-probability is -(k + 1) / 8, its alternatives the next ids down by 1 each.
/// </summary>
public static class FakeModel
{
    public sealed record Choice(IReadOnlyList<int> TokenIds, IReadOnlyList<string> Pieces, string Text, IReadOnlyList<SampledToken> Logprobs, string FinishReason);

    private static readonly FakeTokenizer Tokenizer = new();
    private static readonly int Dot = '.' + FakeTokenizer.Offset;

    /// <summary>With prompt logprobs asked for: prompt token i (i > 0) scores -i / 4 at rank i, its
    /// alternatives the next ids down by 1 each; the first token is unscored. Null otherwise.</summary>
    public static IReadOnlyList<PromptLogprob?>? ScorePrompt(IReadOnlyList<int> prompt, SamplingParameters p) =>
        p.PromptLogprobs is not { } top ? null
            : [.. prompt.Select((t, i) => i == 0 ? null : new PromptLogprob(new SampledToken(t, 0f, -i / 4f,
                [.. Enumerable.Range(0, top).Select(a => new TokenLogprob(Math.Max(0, t - a - 1), -i / 4f - a - 1))]), i))];

    public static Choice Complete(IReadOnlyList<int> prompt, int index, SamplingParameters p)
    {
        var cycle = prompt.Where(t => t >= FakeTokenizer.Offset).DefaultIfEmpty('x' + FakeTokenizer.Offset).ToArray();
        var tokens = new List<int>();
        var textTokens = new List<int>();
        string? finish = null;
        var stopAt = -1;
        for (var k = 0; k < p.MaxTokens && finish is null; k++)
        {
            var token = cycle[(index + k) % cycle.Length];
            if (tokens.Count > 0 && tokens[^1] == Dot && !p.IgnoreEos && k >= p.MinTokens) token = FakeTokenizer.Eos;
            tokens.Add(token);
            if (token == FakeTokenizer.Eos || p.StopTokenIds.Contains(token)) { finish = "stop"; break; }
            textTokens.Add(token);
            var text = Tokenizer.Decode(textTokens);
            foreach (var s in p.Stop)
            {
                var i = text.IndexOf(s, StringComparison.Ordinal);
                if (i < 0) continue;
                stopAt = p.IncludeStopStringInOutput ? i + s.Length : i;
                finish = "stop";
                break;
            }
        }
        var full = Tokenizer.Decode(textTokens);
        var final = stopAt >= 0 ? full[..stopAt] : full;
        // Each token's piece is its share of the final text; held-back stop text is never emitted.
        var pieces = new List<string>();
        var done = 0;
        for (var k = 0; k < tokens.Count; k++)
        {
            var upTo = Math.Min(final.Length, Tokenizer.Decode(tokens.Take(k + 1).ToList()).Length);
            pieces.Add(upTo > done ? final[done..upTo] : "");
            done = Math.Max(done, upTo);
        }
        var logprobs = p.Logprobs is { } top
            ? tokens.Select((t, k) => new SampledToken(t, 0f, -(k + 1) / 8f,
                [.. Enumerable.Range(0, top).Select(a => new TokenLogprob(Math.Max(0, t - a), -(k + 1) / 8f - a))])).ToList()
            : [];
        return new Choice(tokens, pieces, final, logprobs, finish ?? "length");
    }
}
