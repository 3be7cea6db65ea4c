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
    int MaxWaitingRequests = int.MaxValue);
