using LlmEngine.Actors.Sequences;
using LlmEngine.Kernels.Runtime;

namespace LlmEngine.Actors.Scheduling;

/// <summary>A sequence that runs this step: the count of tokens already cached (after any
/// prefix-cache hit), how many it computes now, its block table and its new tokens' slots.</summary>
public sealed record ScheduledSequence(long SequenceId, int NumComputed, int NumNew, int[] BlockTable, long[] Slots);

/// <summary>
/// What one <see cref="Scheduler.Schedule"/> decided (vLLM's SchedulerOutput): the sequences
/// that run, in batch order; which requests were admitted, preempted (recompute or swap) and
/// resumed from swap; the block moves the worker makes before its forward pass; and the pool's
/// figures after the allocation.
/// </summary>
public sealed record SchedulerOutput(
    IReadOnlyList<(Sequence Sequence, SequenceGroup Group, ScheduledSequence Work)> Scheduled,
    IReadOnlyList<string> Admitted,
    IReadOnlyList<string> PreemptedByRecompute,
    IReadOnlyList<string> SwappedOut,
    IReadOnlyList<string> SwappedIn,
    CacheOperationsPlan CacheOperations,
    BlockUsage Usage)
{
    public int NumScheduledTokens => Scheduled.Sum(s => s.Work.NumNew);
    public bool IsEmpty => Scheduled.Count == 0 && CacheOperations.IsEmpty;
}

/// <summary>Block pool figures at one moment; wasted slots are allocated slots holding no token.
/// <see cref="SharedBlocks"/> counts device blocks with refcount > 1, <see cref="UsedSwapBlocks"/>
/// host blocks in use, <see cref="Evictions"/> cached contents dropped since start.</summary>
public sealed record BlockUsage(int Total, int Free, long AllocatedSlots, long WastedSlots, int SharedBlocksSaved, long PrefixQueries, long PrefixHits,
    int SharedBlocks = 0, int UsedSwapBlocks = 0, long Evictions = 0);
