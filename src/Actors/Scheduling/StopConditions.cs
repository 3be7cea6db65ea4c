using LlmEngine.Actors.Sequences;
using LlmEngine.Kernels.Sampling;

namespace LlmEngine.Actors.Scheduling;

/// <summary>Token-level stop checks, applied as each token is appended (stop strings need text
/// and are checked where the text is made, by the request's Sequence actor).</summary>
public static class StopConditions
{
    /// <summary>Tokens a sequence may not sample yet: end-of-sequence and stop tokens before min_tokens.</summary>
    public static IReadOnlyList<int> Banned(int outputCount, SamplingParameters sampling, IReadOnlyCollection<int> eos)
    {
        if (outputCount >= sampling.MinTokens) return [];
        return (sampling.IgnoreEos ? [] : eos).Concat(sampling.StopTokenIds).Distinct().ToList();
    }

    /// <summary>"stop", "length" or null after <paramref name="token"/> was appended.</summary>
    public static string? Check(Sequence sequence, int token, SamplingParameters sampling, IReadOnlyCollection<int> eos, int maxModelLength)
    {
        if (!sampling.IgnoreEos && eos.Contains(token)) return "stop";
        if (sampling.StopTokenIds.Contains(token)) return "stop";
        if (sequence.OutputTokenIds.Count >= sampling.MaxTokens) return "length";
        if (sequence.TokenCount >= maxModelLength) return "length";
        return null;
    }
}
