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

public readonly record struct TokenLogprob(int TokenId, float Logprob);

/// <summary>A sampled token with its logit and log-probability under the model (after penalties,
/// before temperature and truncation) and the most likely alternatives when asked.</summary>
public sealed record SampledToken(int TokenId, float Logit, float Logprob, TokenLogprob[] Top);
