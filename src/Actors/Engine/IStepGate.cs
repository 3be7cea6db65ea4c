namespace LlmEngine.Actors.Engine;

/// <summary>
/// Whether the model can run a step now: with --distributed-executor-backend cluster a pipeline
/// stage may be without its worker node (<see cref="Distributed.ClusterStages"/>). The scheduler
/// asks before every step; while the gate is closed it holds its queues instead of scheduling steps
/// that could only fail.
/// </summary>
internal interface IStepGate
{
    /// <summary>Why no step can run now, or null.</summary>
    string? Closed { get; }

    /// <summary>How many times a part of the model came back with an empty KV cache (a stage
    /// reloaded on a new worker node). Each new count makes the scheduler drop the keys and values
    /// it thinks are cached: prefixes are forgotten and requests holding blocks recompute them.</summary>
    long Reloads { get; }
}
