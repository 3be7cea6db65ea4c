using LlmEngine.Actors.Engine;
using LlmEngine.Kernels.Runtime;

namespace LlmEngine.Actors.Scheduling;

/// <summary>A sequence that wants tokens computed this step: its tokens so far, how many are
/// already in the cache, and how many more the token budget grants.</summary>
public sealed record SequenceWork(long SequenceId, int[] Tokens, int NumComputed, int NumNew);

public enum GroupPhase { Running, Swapped, Waiting }

/// <summary>A request's share of a proposed step. <see cref="ReserveTokens"/> is the length to
/// reserve blocks for at admission (the reserved-layout baseline), 0 for paged allocation.</summary>
public sealed record GroupWork(string RequestId, long ArrivalOrder, GroupPhase Phase, IReadOnlyList<SequenceWork> Sequences, int ReserveTokens = 0);

/// <summary>
/// What the scheduler proposes to the block manager for one step, in priority order (running by
/// arrival, then swapped, then waiting), with the block bookkeeping left over from the last
/// step (sequences to free, forks to make, whether it wrote its K/V) so that one message carries
/// everything.
/// </summary>
public sealed record StepProposal(
    IReadOnlyList<GroupWork> Groups,
    IReadOnlyList<long> Freed,
    IReadOnlyList<(long Parent, long Child)> Forks,
    PreemptionMode PreemptionMode,
    bool LastStepWritten = true);

/// <summary>A sequence that runs this step: the count of tokens already cached (after any
/// prefix-cache hit), how many it computes now, its block table and its new tokens' slots.</summary>
public sealed record ScheduledSequence(long SequenceId, int NumComputed, int NumNew, int[] BlockTable, long[] Slots);

/// <summary>The block manager's answer: what runs, who was admitted, preempted or swapped, the
/// cache operations the worker applies first, and the pool's figures after the allocation.</summary>
public sealed record StepAllocation(
    IReadOnlyList<ScheduledSequence> Scheduled,
    IReadOnlyList<string> Admitted,
    IReadOnlyList<string> PreemptedByRecompute,
    IReadOnlyList<string> SwappedOut,
    IReadOnlyList<string> SwappedIn,
    CacheOperationsPlan CacheOperations,
    BlockUsage Usage);

/// <summary>Block pool figures at one moment; wasted slots are allocated slots holding no token.
/// <see cref="SharedBlocks"/> counts device blocks with refcount > 1, <see cref="UsedSwapBlocks"/>
/// host blocks in use, <see cref="Evictions"/> cached contents dropped since start.</summary>
public sealed record BlockUsage(int Total, int Free, long AllocatedSlots, long WastedSlots, int SharedBlocksSaved, long PrefixQueries, long PrefixHits,
    int SharedBlocks = 0, int UsedSwapBlocks = 0, long Evictions = 0);
