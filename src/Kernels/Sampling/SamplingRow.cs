namespace LlmEngine.Kernels.Sampling;

/// <summary>What the sampler needs for one row of logits: the request's parameters, its tokens so
/// far (for penalties), one uniform draw from its own random stream, tokens it may not pick yet
/// (EOS before min_tokens), and how many top alternatives to report.</summary>
public sealed record SamplingRow(
    SamplingParameters Parameters,
    IReadOnlyList<int> PromptTokens,
    IReadOnlyList<int> OutputTokens,
    double Uniform,
    IReadOnlyList<int> BannedTokens,
    int TopLogprobs);

public readonly record struct TokenLogprob(int TokenId, float Logprob);

/// <summary>A sampled token with its logit and log-probability under the model (after penalties,
/// before temperature and truncation) and the most likely alternatives when asked.</summary>
public sealed record SampledToken(int TokenId, float Logit, float Logprob, TokenLogprob[] Top);
