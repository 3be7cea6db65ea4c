namespace LlmEngine.Scheduling;

// What the worker's sampler gives back for each sample row of a step (vLLM's ModelRunnerOutput):
// the scheduler appends the tokens and ranks beams by them; the data plane produces them.

public readonly record struct TokenLogprob(int TokenId, float Logprob);

/// <summary>A sampled token with its logit and log-probability under the model (after penalties,
/// before temperature and truncation) and the most likely alternatives when asked.</summary>
public sealed record SampledToken(int TokenId, float Logit, float Logprob, TokenLogprob[] Top);

/// <summary>A prompt token's log-probability given the tokens before it (vLLM's prompt_logprobs),
/// its rank among all tokens (1: the most likely) and the most likely alternatives when asked.</summary>
public sealed record PromptLogprob(SampledToken Token, int Rank);
