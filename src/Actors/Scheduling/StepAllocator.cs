using LlmEngine.Actors.Blocks;
using LlmEngine.Actors.Engine;
using LlmEngine.Kernels.Runtime;

namespace LlmEngine.Actors.Scheduling;

/// <summary>
/// Turns a proposed step into blocks, over the KV cache manager. Running requests go first, in
/// arrival order; when one cannot get a slot the latest arrival still running is preempted
/// (recompute: its blocks are freed; swap: they move to the host pool, or are freed when it is
/// full) and the allocation is retried. Swapped requests come back next, and only when none is
/// left waiting in the swap pool are new requests admitted, first come first served, stopping at
/// the first that does not fit.
/// </summary>
public sealed class StepAllocator(KvCacheManager cache)
{
    // Prompt tokens looked up in the prefix cache and found there, counted once per admitted
    // sequence (an admission that waits for blocks looks its prefix up again at every step).
    private long _prefixQueries, _prefixHits;

    public KvCacheManager Cache => cache;

    public StepAllocation Allocate(StepProposal proposal)
    {
        // The last step's full blocks become cacheable only if it wrote them.
        if (proposal.LastStepWritten) cache.PublishWritten();
        else cache.DiscardUnwritten();
        // Forks first: a parent may have finished in the very step that forked it.
        foreach (var (parent, child) in proposal.Forks) cache.Fork(parent, child);
        foreach (var id in proposal.Freed) cache.Free(id);

        var state = new AllocationState();
        var running = proposal.Groups.Where(g => g.Phase == GroupPhase.Running).ToList();
        foreach (var group in running)
        {
            if (state.Preempted.Contains(group.RequestId)) continue;
            while (!TryAllocate(group, state))
            {
                var victim = PreemptionPolicy.ChooseVictim(running, g => !state.Preempted.Contains(g.RequestId))!;
                Preempt(victim, proposal.PreemptionMode, state);
                if (victim == group) break;
            }
        }

        bool swapQueueClear = true;
        foreach (var group in proposal.Groups.Where(g => g.Phase == GroupPhase.Swapped))
        {
            var ids = group.Sequences.Select(s => s.SequenceId).ToList();
            // Room for the swapped blocks plus this step's new tokens (and a copy-on-write block),
            // so the allocation after swapping in cannot fail: undoing a swap-in within a step
            // would reorder the block copies.
            int headroom = group.Sequences.Sum(w => BlockBudget.BlocksFor(w.NumComputed + w.NumNew, cache.BlockSize)
                - BlockBudget.BlocksFor(w.NumComputed, cache.BlockSize) + 1);
            bool fits = cache.CanSwapIn(ids, headroom);
            if (!swapQueueClear || state.Preempted.Count > 0 || !fits) { swapQueueClear = false; continue; }
            state.SwapIn.AddRange(cache.SwapIn(ids));
            if (!TryAllocate(group, state)) throw new InvalidOperationException($"request {group.RequestId} swapped in without room for its next token");
            state.SwappedIn.Add(group.RequestId);
        }

        if (swapQueueClear)
            foreach (var group in proposal.Groups.Where(g => g.Phase == GroupPhase.Waiting))
            {
                if (!TryAdmit(group, state)) break;
                state.Admitted.Add(group.RequestId);
            }

        var tokens = state.Scheduled.ToDictionary(s => s.SequenceId, s => s.NumComputed + s.NumNew);
        foreach (var group in proposal.Groups.Where(g => g.Phase == GroupPhase.Running && !state.Preempted.Contains(g.RequestId)))
            foreach (var work in group.Sequences) tokens.TryAdd(work.SequenceId, work.NumComputed);
        return new StepAllocation(state.Scheduled, state.Admitted, state.Recomputed, state.SwappedOut, state.SwappedIn,
            new CacheOperationsPlan(state.SwapOut, state.SwapIn, state.Copies), Usage(tokens));
    }

    /// <param name="tokens">tokens held per sequence that holds device blocks</param>
    public BlockUsage Usage(IReadOnlyDictionary<long, int> tokens) => new(cache.NumTotalBlocks, cache.NumFreeBlocks, cache.AllocatedSlots,
        cache.WastedSlots(tokens), cache.SharedBlocksSaved, _prefixQueries, _prefixHits, cache.NumSharedBlocks, cache.NumUsedSwapBlocks, cache.NumEvictions);

    private sealed class AllocationState
    {
        public readonly List<ScheduledSequence> Scheduled = new();
        public readonly HashSet<string> Preempted = new();
        public readonly List<string> Admitted = new(), Recomputed = new(), SwappedOut = new(), SwappedIn = new();
        public readonly List<(int, int)> SwapOut = new(), SwapIn = new(), Copies = new();
    }

    private bool TryAllocate(GroupWork group, AllocationState state)
    {
        var done = new List<ScheduledSequence>();
        foreach (var work in group.Sequences)
        {
            if (!cache.TryAllocateSlots(work.SequenceId, work.Tokens, work.NumComputed, work.NumNew, state.Copies)) return false;
            done.Add(Scheduled(work.SequenceId, work.NumComputed, work.NumNew));
        }
        state.Scheduled.RemoveAll(s => group.Sequences.Any(w => w.SequenceId == s.SequenceId));
        state.Scheduled.AddRange(done);
        return true;
    }

    // A new (or recompute-preempted) request: map its cached prefix, then allocate the rest.
    private bool TryAdmit(GroupWork group, AllocationState state)
    {
        var admitted = new List<ScheduledSequence>();
        foreach (var work in group.Sequences)
        {
            int cached = cache.AllocatePrefix(work.SequenceId, work.Tokens);
            int computed = Math.Max(work.NumComputed, cached);
            int target = Math.Max(work.NumComputed + work.NumNew, computed + 1);
            int reserve = Math.Max(group.ReserveTokens - target, 0);
            // Reserved slots lie past the tokens the sequence has; the allocation wants an id per
            // slot, so the reservation is padded. The reserved layout runs without prefix caching
            // (InferenceEngine), so the padding is never hashed.
            var tokens = reserve == 0 ? work.Tokens : [.. work.Tokens, .. new int[target + reserve - work.Tokens.Length]];
            if (!cache.TryAllocateSlots(work.SequenceId, tokens, computed, target - computed + reserve, state.Copies))
            {
                foreach (var w in group.Sequences) cache.Free(w.SequenceId);
                return false;
            }
            admitted.Add(Scheduled(work.SequenceId, computed, target - computed));
        }
        if (cache.PrefixCaching)
            foreach (var (work, s) in group.Sequences.Zip(admitted))
            {
                _prefixQueries += work.Tokens.Length;
                _prefixHits += s.NumComputed;
            }
        state.Scheduled.AddRange(admitted);
        return true;
    }

    private ScheduledSequence Scheduled(long id, int computed, int count)
    {
        var slots = new long[count];
        for (int i = 0; i < count; i++) slots[i] = cache.Slot(id, computed + i);
        return new ScheduledSequence(id, computed, count, cache.BlockTable(id).ToArray(), slots);
    }

    private void Preempt(GroupWork victim, PreemptionMode mode, AllocationState state)
    {
        state.Preempted.Add(victim.RequestId);
        state.Scheduled.RemoveAll(s => victim.Sequences.Any(w => w.SequenceId == s.SequenceId));
        var ids = victim.Sequences.Select(s => s.SequenceId).ToList();
        if (mode == PreemptionMode.Swap && cache.CanSwapOut(ids))
        {
            state.SwapOut.AddRange(cache.SwapOut(ids));
            state.SwappedOut.Add(victim.RequestId);
            return;
        }
        foreach (var id in ids) cache.Free(id);
        state.Recomputed.Add(victim.RequestId);
    }
}
