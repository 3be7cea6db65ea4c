
namespace LlmEngine.Scheduling;

/// <summary>
/// One step as <see cref="Scheduler.Schedule"/> decided it, told to the worker as a change to what
/// it already holds (vLLM v1's SchedulerOutput): a request's prompt and sampling travel once, with
/// its first step; afterwards a sequence carries only the tokens appended since, and the part of
/// its block table that changed. The worker applies, in this order, the new requests, the forks,
/// the finished sequences, then the scheduled ones (in batch order) after the block moves.
/// The admitted, preempted and resumed request ids and the pool's figures are the step's report.
/// </summary>
public sealed record SchedulerOutput(
    IReadOnlyList<NewRequestData> NewRequests,
    IReadOnlyList<SequenceFork> Forks,
    IReadOnlyList<long> FinishedSequenceIds,
    IReadOnlyList<ScheduledSequence> Scheduled,
    IReadOnlyList<SampleRow> SampleRows,
    CacheOperationsPlan CacheOperations,
    IReadOnlyList<string> Admitted,
    IReadOnlyList<string> PreemptedByRecompute,
    IReadOnlyList<string> SwappedOut,
    IReadOnlyList<string> SwappedIn,
    BlockUsage Usage)
{
    public int NumScheduledTokens => Scheduled.Sum(s => s.NumNew);
    public bool IsEmpty => Scheduled.Count == 0 && CacheOperations.IsEmpty;
}

/// <summary>A request the worker has not seen, sent once with its first step: the request as it
/// came (its prompt, how it samples) and the id of its first sequence.</summary>
public sealed record NewRequestData(IScheduledRequest Request, long FirstSequenceId)
{
    public string RequestId => Request.RequestId;
    public IReadOnlyList<int> PromptTokenIds => Request.PromptTokenIds;
}

/// <summary>One sample row of a step, in batch order: the sequence whose last logits it samples
/// from and the completion index its token goes to (another index than the sequence's own means a
/// fork: a request's n parallel samples all come from its prompt's logits).</summary>
public readonly record struct SampleRow(long SequenceId, int Index);

/// <summary>A sequence forked since the last step (parallel samples, beams): the child starts as
/// the parent was before this step's new tokens, as completion <see cref="Index"/>.</summary>
public readonly record struct SequenceFork(long Parent, long Child, int Index);

/// <summary>
/// A sequence that runs this step: the tokens appended to it since the worker last heard of it,
/// its block table as a change (the first <see cref="KeptBlocks"/> entries stay and
/// <see cref="NewBlockIds"/> follow them: new blocks, a copy-on-write replacement, or the whole
/// table after a swap-in or a recompute), the tokens already cached (after any prefix hit) and
/// how many it computes now.
/// </summary>
public sealed record ScheduledSequence(long SequenceId, int NumComputed, int NumNew, int[] NewTokenIds, int KeptBlocks, int[] NewBlockIds);

/// <summary>Block pool figures at one moment; wasted slots are allocated slots holding no token.
/// <see cref="SharedBlocks"/> counts device blocks with refcount > 1, <see cref="UsedSwapBlocks"/>
/// host blocks in use, <see cref="Evictions"/> cached contents dropped since start.</summary>
public sealed record BlockUsage(int Total, int Free, long AllocatedSlots, long WastedSlots, int SharedBlocksSaved, long PrefixQueries, long PrefixHits,
    int SharedBlocks = 0, int UsedSwapBlocks = 0, long Evictions = 0);
