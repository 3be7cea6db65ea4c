using LlmEngine.Actors.Engine;

namespace LlmEngine.Actors.Scheduling;

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
