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
    IReadOnlyDictionary<string, long>? Aborts = null,
    IterationTokens? IterationTokens = null);

/// <summary>Tokens computed per engine step (vLLM's iteration_tokens_total): how many steps fell at or
/// under each of <see cref="Bounds"/> and above the last (<see cref="Counts"/>, one longer, not
/// cumulative), and the tokens' sum.</summary>
public sealed record IterationTokens(IReadOnlyList<int> Bounds, IReadOnlyList<long> Counts, long Sum)
{
    public static readonly int[] VllmBounds = [1, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384];
}
