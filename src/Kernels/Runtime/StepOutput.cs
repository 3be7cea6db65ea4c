using LlmEngine.Scheduling;

namespace LlmEngine.Kernels.Runtime;

/// <summary>
/// What one step produced, one entry per sample row: the sampled token, or (null) the row failed
/// alone and <see cref="Failures"/> says why. A row fails alone when its logits are not numbers or
/// sampling it throws; the K/V of the whole step is written either way. <see cref="Prompts"/> holds
/// the prompt tokens scored this step (<see cref="ModelStep.PromptRows"/>).
/// </summary>
public sealed record StepOutput(SampledToken?[] Samples, IReadOnlyDictionary<int, Exception> Failures)
{
    public IReadOnlyList<ScoredPromptToken> Prompts { get; init; } = [];

    public static readonly StepOutput Empty = new([], new Dictionary<int, Exception>());

    /// <summary>The tokens when no row failed; throws the first row's failure otherwise.</summary>
    public SampledToken[] All() => Failures.Count == 0 ? Samples.Select(s => s!).ToArray() : throw Failures.First().Value;
}

/// <summary>A prompt token's log-probability as a step computed it, at its position in the prompt.</summary>
public readonly record struct ScoredPromptToken(string RequestId, int Position, PromptLogprob Logprob);
