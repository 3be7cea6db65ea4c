using LlmEngine.Kernels.Sampling;
using LlmEngine.Scheduling;

namespace LlmEngine.Actors.Engine;

/// <summary>One request to the engine: prompt token ids (already tokenised; the text is kept for
/// echo) and how to sample. N > 1 gives parallel samples or beams that share the prompt's blocks.</summary>
public sealed record GenerationRequest(string RequestId, IReadOnlyList<int> PromptTokenIds, SamplingParameters Sampling, string? Prompt = null)
    : IScheduledRequest
{
    CompletionTerms IScheduledRequest.Terms => Sampling.ToCompletionTerms();

    /// <summary>How long it may take from its arrival: once passed, it ends as an abort would (its stream
    /// with a final output whose unfinished completions say "abort") and its blocks are freed. Null: no limit.</summary>
    public TimeSpan? Timeout { get; init; }
}
