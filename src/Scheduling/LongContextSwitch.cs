using LlmEngine.Scheduling.Sequences;

namespace LlmEngine.Scheduling;

/// <summary>
/// Phi-3's longrope rotates every position with one of two tables, chosen by how many tokens the
/// sequence has: the short factors up to <see cref="After"/> tokens, the long ones past that
/// (transformers' semantics). Keys cached while a sequence was short are stale once it grows past
/// the switch, so its cache is dropped and recomputed once with the long factors, as transformers
/// recomputes the whole sequence on its first step past the switch.
/// <code>
///   After = 40: prompt of 30 ─► decodes ─► 41 tokens: keys 0..39 are short ─► recompute 0..40 long
///   prompt of 100: every chunk of it is long already (the worker counts the whole prompt)
/// </code>
/// Prefix caching is off for such models: a cached block does not say which factors rotated it.
/// </summary>
public sealed record LongContextSwitch(int After)
{
    /// <summary>Whether a sequence of <paramref name="tokenCount"/> tokens uses the long factors.</summary>
    public bool IsLong(int tokenCount) => After > 0 && tokenCount > After;

    /// <summary>True when the sequence's cached keys were rotated for a shorter context than it has now.</summary>
    public bool IsStale(Sequence sequence) => sequence.NumComputed > 0 && IsLong(sequence.TokenCount) && !sequence.CachedLong;
}
