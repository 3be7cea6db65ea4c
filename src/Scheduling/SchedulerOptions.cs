namespace LlmEngine.Scheduling;

/// <summary>What preemption does to the victim's KV: drop it and compute it again later, or
/// move it to the host's swap pool and back.</summary>
public enum PreemptionMode { Recompute, Swap }

/// <summary>How KV memory is laid out: in blocks on demand (paged), or reserved up front for each
/// request's maximum length, contiguously (the baseline of the PagedAttention paper).</summary>
public enum KvLayout { Paged, Reserved }

/// <summary>Iteration-level (continuous) batching, or request-level (static) batching where a
/// batch runs until all of its requests finish before new ones are admitted.</summary>
public enum BatchingMode { Continuous, Static }

/// <summary>The engine settings the scheduler acts on, taken from the engine's options.</summary>
public sealed record SchedulerOptions(
    int MaxNumSeqs,
    int MaxNumBatchedTokens,
    int MaxModelLength,
    PreemptionMode PreemptionMode,
    BatchingMode Batching,
    KvLayout KvLayout,
    IReadOnlyCollection<int> EosTokenIds,
    int MaxWaitingRequests = int.MaxValue,
    int LongContextAfter = 0)
{
    /// <summary>When a longrope model's sequences switch to the long factors (never when 0).</summary>
    public LongContextSwitch LongContext { get; } = new(LongContextAfter);
}
