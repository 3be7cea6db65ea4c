using LlmEngine.Scheduling;

namespace LlmEngine.Actors.Engine;

/// <summary>What one of a request's completions gained in one step (streaming), or, with
/// <see cref="Finished"/>, its end. Text is detokenised incrementally; a stop string is never
/// part of it.</summary>
public sealed record CompletionDelta(
    int Index,
    IReadOnlyList<int> TokenIds,
    string Text,
    IReadOnlyList<SampledToken> Logprobs,
    string? FinishReason)
{
    public bool Finished => FinishReason is not null;
}

/// <summary>A finished completion: all tokens, text, cumulative log-probability and finish reason
/// ("stop", "length", or "abort").</summary>
public sealed record CompletionOutput(
    int Index,
    IReadOnlyList<int> TokenIds,
    string Text,
    double CumulativeLogprob,
    IReadOnlyList<SampledToken> Logprobs,
    string FinishReason);

/// <summary>Timings of one request, for metrics and benchmarks (seconds since arrival).</summary>
public sealed record RequestTimings(DateTime Arrival, double QueueSeconds, double FirstTokenSeconds, double EndSeconds);

/// <summary>The stream element of a request: deltas of its completions; the last element has
/// <see cref="Finished"/> set, the final outputs (best first for beam search) and timings.</summary>
public sealed record RequestOutput(
    string RequestId,
    IReadOnlyList<int> PromptTokenIds,
    IReadOnlyList<CompletionDelta> Deltas,
    bool Finished,
    IReadOnlyList<CompletionOutput>? Outputs = null,
    RequestTimings? Timings = null)
{
    /// <summary>With prompt logprobs asked for: one entry per prompt token (the first, which nothing
    /// predicts, is null), on the first output and the last; null otherwise.</summary>
    public IReadOnlyList<PromptLogprob?>? PromptLogprobs { get; init; }
}
