using LlmEngine.Scheduling.Blocks;
using LlmEngine.Scheduling.Sequences;
using LlmEngine.Scheduling;

namespace LlmEngine.Actors.Observing;

/// <summary>Something the engine did, stamped with <see cref="System.Diagnostics.Stopwatch.GetTimestamp"/>.</summary>
public abstract record EngineEvent(long Timestamp);

/// <summary>A request reached the scheduler and joined the waiting queue.</summary>
public sealed record RequestArrived(long Timestamp, string RequestId, int PromptTokens, int N) : EngineEvent(Timestamp);

/// <summary>A request left the engine: all its completions finished, or it was aborted or failed.</summary>
public sealed record RequestFinished(long Timestamp, string RequestId, string Reason) : EngineEvent(Timestamp);

/// <summary>
/// One executed step, stamped at its end. <see cref="Start"/>: the proposal left the scheduler;
/// <see cref="Allocated"/>: blocks came back and the step went to the worker; <see cref="Executed"/>:
/// samples came back. Of the worker's time, <see cref="SampleSeconds"/> was sampling, the rest
/// the forward pass and block moves. Requests preempted or swapped by this step's allocation did
/// not run in it. <see cref="Usage"/> holds the pool's own counters after the allocation.
/// </summary>
public sealed record StepRecord(
    long Timestamp,
    long Step,
    long Start,
    long Allocated,
    long Executed,
    double ComputeSeconds,
    double SampleSeconds,
    IReadOnlyList<StepRequest> Batch,
    IReadOnlyList<string> Preempted,
    IReadOnlyList<string> SwappedOut,
    IReadOnlyList<string> SwappedIn,
    int CopiedBlocks,
    int Evictions,
    BlockUsage Usage,
    int Running,
    int Waiting,
    int Swapped,
    int GeneratedTokens) : EngineEvent(Timestamp);

/// <summary>
/// One request's part of a step: its sequences in the step, tokens computed as prefill (a prompt
/// chunk, or the recompute after a preemption) and as decode (the last sampled token), and, when
/// the step admitted it, the prompt tokens its prefix-cache hit spared.
/// </summary>
public sealed record StepRequest(string RequestId, int Sequences, int PrefillTokens, int DecodeTokens, bool Admitted, int CachedTokens);

/// <summary>
/// The KV cache and the requests at one moment, both as of the allocation of step
/// <see cref="Step"/> (or, with no step in flight, as the last one left them). Taken only on
/// request (<see cref="EngineObserver.RequestSnapshot"/>).
/// </summary>
public sealed record EngineSnapshot(long Timestamp, long Step, BlockMap Blocks, IReadOnlyList<RequestState> Requests) : EngineEvent(Timestamp);

/// <summary>A request still in the engine: its queue, prompt, completions and history so far.</summary>
public sealed record RequestState(
    string RequestId,
    SequenceStatus Status,
    int PromptTokens,
    IReadOnlyList<SequenceState> Sequences,
    DateTime Arrival,
    DateTime? FirstToken,
    int NumPreemptions);

/// <summary>One completion's sequence: output tokens so far and tokens whose K/V are cached.</summary>
public sealed record SequenceState(long SequenceId, int Index, int OutputTokens, int NumComputed, bool Finished);
