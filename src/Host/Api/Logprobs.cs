using System.Text;
using LlmEngine.Kernels.Tokenizers;
using LlmEngine.Scheduling;

namespace LlmEngine.Host.Api;

/// <summary>Sampled tokens' log-probabilities in the two formats OpenAI has: the legacy
/// completions one (parallel lists plus text offsets) and the chat one (a list of entries).</summary>
public sealed class LogprobFormatter(ITokenizer? tokenizer)
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
            // vLLM's dictionary: the top alternatives and, always, the sampled token itself.
            var top = new Dictionary<string, double>();
            foreach (var alt in t.Top) top.TryAdd(TokenText(alt.TokenId), ApiJson.Finite(alt.Logprob));
            top.TryAdd(text, ApiJson.Finite(t.Logprob));
            result.TopLogprobs.Add(top);
            result.TextOffset.Add(offset);
            offset += TextLength(t.TokenId);
        }
        return result;
    }

    /// <summary>Echoed prompt tokens: their texts and offsets, with null log-probabilities
    /// (the engine does not score prompts).</summary>
    public CompletionLogprobs Prompt(IReadOnlyList<int> tokenIds)
    {
        var result = new CompletionLogprobs([], [], [], []);
        var offset = 0;
        foreach (var id in tokenIds)
        {
            var text = TokenText(id);
            result.Tokens.Add(text);
            result.TokenLogprobs.Add(null);
            result.TopLogprobs.Add(null);
            result.TextOffset.Add(offset);
            offset += TextLength(id);
        }
        return result;
    }

    public ChatLogprobs Chat(IEnumerable<SampledToken> tokens, int topCount) =>
        new([.. tokens.Select(t => new ChatTokenLogprob(
            TokenText(t.TokenId), ApiJson.Finite(t.Logprob), Bytes(TokenText(t.TokenId)),
            [.. t.Top.Take(topCount).Select(a => new ChatTopLogprob(TokenText(a.TokenId), ApiJson.Finite(a.Logprob), Bytes(TokenText(a.TokenId))))]))]);

    private static int[] Bytes(string text) => [.. Encoding.UTF8.GetBytes(text).Select(b => (int)b)];
}
