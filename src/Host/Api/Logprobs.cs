using System.Text;
using LlmEngine.Kernels.Tokenizers;
using LlmEngine.Scheduling;

namespace LlmEngine.Host.Api;

/// <summary>Sampled tokens' log-probabilities in the two formats OpenAI has: the legacy
/// completions one (parallel lists plus text offsets) and the chat one (a list of entries).</summary>
internal sealed class LogprobFormatter(ITokenizer? tokenizer)
{
    /// <summary>A token's own text, special tokens included; "token_id:N" without a tokenizer (as vLLM).</summary>
    public string TokenText(int id) => tokenizer?.Decode([id], skipSpecialTokens: false) ?? $"token_id:{id}";

    /// <summary>How much of the response text a token takes: special tokens (BOS, EOS) take none,
    /// so text offsets index the text the client got.</summary>
    private int TextLength(int id) => tokenizer?.Decode([id], skipSpecialTokens: true).Length ?? 0;

    /// <param name="offset">Text offset of the first token (the length of the text before it).</param>
    public CompletionLogprobs Completion(IEnumerable<SampledToken> tokens, int offset, CompletionLogprobs? into = null)
    {
        var result = into ?? new CompletionLogprobs([], [], [], []);
        foreach (var t in tokens)
        {
            var text = TokenText(t.TokenId);
            result.Tokens.Add(text);
            result.TokenLogprobs.Add(ApiJson.Finite(t.Logprob));
            result.TopLogprobs.Add(TopOf(t, text));
            result.TextOffset.Add(offset);
            offset += TextLength(t.TokenId);
        }
        return result;
    }

    /// <summary>Echoed prompt tokens: their texts and offsets, with the scores the engine gave them
    /// (<paramref name="scores"/>: one per prompt token, null where none, as for the first token).</summary>
    /// <param name="top">Alternatives per token, as the completion's own logprobs ask.</param>
    public CompletionLogprobs Prompt(IReadOnlyList<int> tokenIds, IReadOnlyList<PromptLogprob?>? scores, int top)
    {
        var result = new CompletionLogprobs([], [], [], []);
        var offset = 0;
        for (int i = 0; i < tokenIds.Count; i++)
        {
            var text = TokenText(tokenIds[i]);
            var score = scores is not null && i < scores.Count ? scores[i] : null;
            result.Tokens.Add(text);
            result.TokenLogprobs.Add(score is null ? null : ApiJson.Finite(score.Token.Logprob));
            result.TopLogprobs.Add(score is null ? null : TopOf(score.Token, text, top));
            result.TextOffset.Add(offset);
            offset += TextLength(tokenIds[i]);
        }
        return result;
    }

    // vLLM's dictionary: the top alternatives and, always, the token itself.
    private Dictionary<string, double> TopOf(SampledToken token, string text, int limit = int.MaxValue)
    {
        var top = new Dictionary<string, double>();
        foreach (var alt in token.Top.Take(limit)) top.TryAdd(TokenText(alt.TokenId), ApiJson.Finite(alt.Logprob));
        top.TryAdd(text, ApiJson.Finite(token.Logprob));
        return top;
    }

    /// <summary>vLLM's prompt_logprobs: per prompt token (null where unscored) the token's own entry
    /// and its alternatives', keyed by token id, ranked 1.. in order.</summary>
    public List<Dictionary<string, PromptTokenLogprob>?>? PromptLogprobs(IReadOnlyList<PromptLogprob?>? scores) =>
        scores?.Select(s =>
        {
            if (s is null) return null;
            var entries = new Dictionary<string, PromptTokenLogprob>();
            for (int k = 0; k < s.Token.Top.Length; k++)
            {
                var alt = s.Token.Top[k];
                entries.TryAdd(alt.TokenId.ToString(System.Globalization.CultureInfo.InvariantCulture), new(ApiJson.Finite(alt.Logprob), k + 1, TokenText(alt.TokenId)));
            }
            entries[s.Token.TokenId.ToString(System.Globalization.CultureInfo.InvariantCulture)] = new(ApiJson.Finite(s.Token.Logprob), s.Rank, TokenText(s.Token.TokenId));
            return entries;
        }).ToList();

    public ChatLogprobs Chat(IEnumerable<SampledToken> tokens, int topCount) =>
        new([.. tokens.Select(t => new ChatTokenLogprob(
            TokenText(t.TokenId), ApiJson.Finite(t.Logprob), Bytes(TokenText(t.TokenId)),
            [.. t.Top.Take(topCount).Select(a => new ChatTopLogprob(TokenText(a.TokenId), ApiJson.Finite(a.Logprob), Bytes(TokenText(a.TokenId))))]))]);

    private static int[] Bytes(string text) => [.. Encoding.UTF8.GetBytes(text).Select(b => (int)b)];
}
