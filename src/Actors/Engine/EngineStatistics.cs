namespace LlmEngine.Actors.Engine;

/// <summary>Gauges and counters of the engine since start (read by /metrics and --stats).
/// <see cref="KvTokenShare"/> and <see cref="KvUnusedShare"/> split the whole KV cache, averaged
/// over busy time (each step weighted by its wall time): the share of slots holding a token, and
/// the share allocated or reserved but holding none (the rest is free). <see cref="RequestsRejected"/>
/// counts requests refused for a full waiting queue; <see cref="Aborts"/> requests ended early, by
/// reason (<see cref="AbortReasons"/>).</summary>
public sealed record EngineStatistics(
    int Running,
    int Waiting,
    int Swapped,
    double KvCacheUsage,
    long NumSteps,
    long NumPreemptions,
    long NumSwappedOut,
    long PromptTokens,
    long GenerationTokens,
    long RequestsSucceeded,
    int PeakRunning,
    int PeakBlocksUsed,
    int BlocksTotal,
    int BlocksFree,
    double KvWasteFraction,
    double EngineOverheadFraction,
    long PrefixCacheQueries,
    long PrefixCacheHits,
    int PeakBlocksSavedBySharing,
    double MeanBlocksSavedBySharing,
    double KvTokenShare = 0,
    double KvUnusedShare = 0,
    long RequestsRejected = 0,
    IReadOnlyDictionary<string, long>? Aborts = null);
