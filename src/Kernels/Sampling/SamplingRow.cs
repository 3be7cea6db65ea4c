using LlmEngine.Scheduling;

namespace LlmEngine.Kernels.Sampling;

/// <summary>What the sampler needs for one row of logits: the request's parameters, its tokens so
/// far (for penalties), one uniform draw from its own random stream, tokens it may not pick yet
/// (EOS before min_tokens), how many top alternatives to report, and, for a constrained request,
/// the tokens it may pick (bit t of word t / 64; null: any).</summary>
public sealed record SamplingRow(
    SamplingParameters Parameters,
    IReadOnlyList<int> PromptTokens,
    IReadOnlyList<int> OutputTokens,
    double Uniform,
    IReadOnlyList<int> BannedTokens,
    int TopLogprobs,
    ulong[]? AllowedTokens = null);
