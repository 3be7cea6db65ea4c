namespace LlmEngine.Scheduling;

/// <summary>
/// A request as the scheduler reads it: its prompt and the <see cref="CompletionTerms"/> it acts
/// on. The rest of how the request samples is the worker's business; the request reaches the
/// worker as it is, once, with its first step (<see cref="NewRequestData"/>).
/// </summary>
public interface IScheduledRequest
{
    string RequestId { get; }
    IReadOnlyList<int> PromptTokenIds { get; }
    CompletionTerms Terms { get; }
}

/// <summary>
/// The part of a request's sampling parameters that decides how many completions it has and when
/// each ends, with vLLM's names and defaults: n (completions, or beams), max_tokens, min_tokens,
/// ignore_eos, stop_token_ids, and beam search's length_penalty, early_stopping ("true",
/// "false" or "never") and logprobs. Stop strings need text and are checked where the text is made.
/// </summary>
public sealed record CompletionTerms
{
    public int N { get; init; } = 1;
    public int MaxTokens { get; init; } = 16;
    public int MinTokens { get; init; }
    public bool IgnoreEos { get; init; }
    public IReadOnlyList<int> StopTokenIds { get; init; } = [];
    public bool UseBeamSearch { get; init; }
    public double LengthPenalty { get; init; } = 1.0;
    public string EarlyStopping { get; init; } = "false";
    /// <summary>Top alternatives each beam token reports (logprobs; 0: none): beams' tokens reach
    /// their request only when the search ends, so the search keeps them.</summary>
    public int Logprobs { get; init; }
    /// <summary>Prompt logprobs are wanted: every prompt token is computed (its logits are needed),
    /// so no cached prefix is reused.</summary>
    public bool ScoresPrompt { get; init; }
}
