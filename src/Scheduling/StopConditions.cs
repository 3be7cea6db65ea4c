using LlmEngine.Scheduling.Sequences;

namespace LlmEngine.Scheduling;

/// <summary>Token-level stop checks, applied as each token is appended (stop strings need text
/// and are checked where the text is made, by the request's Sequence actor).</summary>
public static class StopConditions
{
    /// <summary>Tokens a sequence may not sample yet: end-of-sequence and stop tokens before min_tokens.</summary>
    public static IReadOnlyList<int> Banned(int outputCount, CompletionTerms terms, IReadOnlyCollection<int> eos)
    {
        if (outputCount >= terms.MinTokens) return [];
        return (terms.IgnoreEos ? [] : eos).Concat(terms.StopTokenIds).Distinct().ToList();
    }

    /// <summary>"stop", "length" or null after <paramref name="token"/> was appended.</summary>
    public static string? Check(Sequence sequence, int token, CompletionTerms terms, IReadOnlyCollection<int> eos, int maxModelLength)
    {
        if (!terms.IgnoreEos && eos.Contains(token)) return "stop";
        if (terms.StopTokenIds.Contains(token)) return "stop";
        if (sequence.OutputTokenIds.Count >= terms.MaxTokens) return "length";
        if (sequence.TokenCount >= maxModelLength) return "length";
        return null;
    }
}
