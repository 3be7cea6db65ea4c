namespace LlmEngine.Actors.Engine;

/// <summary>Gauges and counters of the engine since start (read by /metrics and --stats).</summary>
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
    double MeanBlocksSavedBySharing);
