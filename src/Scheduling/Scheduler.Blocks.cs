using LlmEngine.Scheduling.Blocks;
using LlmEngine.Scheduling.Sequences;

namespace LlmEngine.Scheduling;

/// <summary>The block side of <see cref="Scheduler.Schedule"/>: planning a request's tokens
/// against the budget, and allocating, preempting, swapping and admitting over the cache.</summary>
public sealed partial class Scheduler
{
    private sealed class StepState(int budget, int seats)
    {
        public int Budget = budget, Seats = seats;
        public readonly List<(Sequence Sequence, SequenceGroup Group, int NumComputed, int NumNew)> Scheduled = new();
        public readonly HashSet<SequenceGroup> Preempted = new();
        public readonly List<string> Admitted = new(), Recomputed = new(), SwappedOut = new(), SwappedIn = new();
        public readonly List<(int, int)> SwapOut = new(), SwapIn = new(), Copies = new();
    }

    /// <summary>This step's token count per unfinished sequence of <paramref name="group"/>, taken
    /// from the budget; sequences left with none are not listed.</summary>
    private static List<(Sequence Sequence, int NumNew)> Plan(SequenceGroup group, StepState step)
    {
        var work = new List<(Sequence, int)>();
        // Beams advance together or not at all: each step ranks all of their candidates.
        if (group.Beams is not null && group.Unfinished.Sum(s => s.Remaining) > step.Budget) return work;
        foreach (var s in group.Unfinished)
        {
            int count = Math.Min(s.Remaining, step.Budget);
            step.Seats--;
            if (count <= 0) continue;
            step.Budget -= count;
            work.Add((s, count));
        }
        return work;
    }

    /// <summary>A running request whose cached keys were computed for a shorter context than its
    /// sequences now have (<see cref="LongContextSwitch"/>) drops them and goes back to the waiting
    /// queue, as a recompute preemption does but not counted as one, to be admitted again (this step
    /// if it fits): so a recomputation, like any prompt, only takes the budget the running requests
    /// leave. Only a running sequence gains tokens, and this runs before anything is preempted, so no
    /// other queue holds such a sequence.</summary>
    private void RecomputeStale()
    {
        if (options.LongContext.After == 0) return;
        foreach (var group in _running.Where(g => g.Unfinished.Any(options.LongContext.IsStale)).ToList())
        {
            foreach (var s in group.Unfinished)
            {
                cache.Free(s.Id);
                s.NumComputed = 0;
            }
            Move(group, SequenceStatus.Waiting, _waiting);
        }
    }

    /// <summary>
    /// The model's KV cache was lost in part (a pipeline stage reloaded empty on a new worker node):
    /// no cached prefix may be reused, and every request holding blocks, on the device or swapped
    /// out, frees them and waits to recompute its tokens, as a recompute preemption would (not
    /// counted as one).
    /// </summary>
    public void ForgetComputed()
    {
        Settle();
        foreach (var group in _running.Concat(_swapped).ToList())
        {
            foreach (var s in group.Unfinished)
            {
                cache.Free(s.Id);
                s.NumComputed = 0;
            }
            Move(group, SequenceStatus.Waiting, _waiting);
        }
        cache.ResetPrefixCache();
    }

    private bool TryAllocate(SequenceGroup group, List<(Sequence Sequence, int NumNew)> work, StepState step)
    {
        var done = new List<(Sequence, SequenceGroup, int, int)>();
        foreach (var (s, count) in work)
        {
            if (!cache.TryAllocateSlots(s.Id, s.AllTokens(), s.NumComputed, count, step.Copies)) return false;
            done.Add((s, group, s.NumComputed, count));
        }
        step.Scheduled.RemoveAll(x => x.Group == group);
        step.Scheduled.AddRange(done);
        return true;
    }

    private void Preempt(SequenceGroup victim, StepState step)
    {
        step.Preempted.Add(victim);
        step.Scheduled.RemoveAll(x => x.Group == victim);
        var ids = victim.Unfinished.Select(s => s.Id).ToList();
        if (options.PreemptionMode == PreemptionMode.Swap && cache.CanSwapOut(ids))
        {
            step.SwapOut.AddRange(cache.SwapOut(ids));
            step.SwappedOut.Add(victim.RequestId);
            Move(victim, SequenceStatus.Swapped, _swapped);
            return;
        }
        foreach (var id in ids) cache.Free(id);
        step.Recomputed.Add(victim.RequestId);
        victim.NumPreemptions++;
        foreach (var s in victim.Sequences) s.NumComputed = 0;
        Move(victim, SequenceStatus.Waiting, _waiting);
    }

    /// <summary>Swaps a request back in if its blocks, plus this step's new tokens (and a
    /// copy-on-write block each), fit: so the allocation after the swap cannot fail, since undoing
    /// a swap-in within a step would reorder the block copies.</summary>
    private bool TrySwapIn(SequenceGroup group, List<(Sequence Sequence, int NumNew)> work, StepState step)
    {
        var ids = group.Unfinished.Select(s => s.Id).ToList();
        int headroom = work.Sum(w => BlockBudget.BlocksFor(w.Sequence.NumComputed + w.NumNew, cache.BlockSize)
            - BlockBudget.BlocksFor(w.Sequence.NumComputed, cache.BlockSize) + 1);
        if (!cache.CanSwapIn(ids, headroom)) return false;
        step.SwapIn.AddRange(cache.SwapIn(ids));
        if (!TryAllocate(group, work, step)) throw new InvalidOperationException($"request {group.RequestId} swapped in without room for its next token");
        step.SwappedIn.Add(group.RequestId);
        Move(group, SequenceStatus.Running, _running);
        return true;
    }

    /// <summary>Admits a waiting (or recompute-preempted) request if it fits: maps its cached
    /// prefix, then allocates the rest. False when it does not fit now.</summary>
    private bool TryAdmit(SequenceGroup group, StepState step, DateTime now)
    {
        if (step.Budget <= 0 || step.Seats < group.Unfinished.Count()) return false;
        var work = Plan(group, step);
        // A beam search waits for a step whose budget holds all of its beams; the queue goes on.
        if (work.Count == 0) return true;
        int reserveTokens = options.KvLayout == KvLayout.Reserved
            ? Math.Min(group.Request.PromptTokenIds.Count + group.Terms.MaxTokens, options.MaxModelLength) : 0;
        var admitted = new List<(Sequence Sequence, SequenceGroup Group, int NumComputed, int NumNew)>();
        foreach (var (s, count) in work)
        {
            var tokens = s.AllTokens();
            int cached = cache.AllocatePrefix(s.Id, tokens, reuse: !group.Terms.ScoresPrompt);
            int computed = Math.Max(s.NumComputed, cached);
            int target = Math.Max(s.NumComputed + count, computed + 1);
            int reserve = Math.Max(reserveTokens - target, 0);
            // Reserved slots lie past the tokens the sequence has; the allocation wants an id per
            // slot, so the reservation is padded. The reserved layout runs without prefix caching
            // (InferenceEngine), so the padding is never hashed.
            var slots = reserve == 0 ? tokens : [.. tokens, .. new int[target + reserve - tokens.Length]];
            if (!cache.TryAllocateSlots(s.Id, slots, computed, target - computed + reserve, step.Copies))
            {
                foreach (var (w, _) in work) cache.Free(w.Id);
                return false;
            }
            admitted.Add((s, group, computed, target - computed));
        }
        if (cache.PrefixCaching)
            foreach (var (s, _, computed, _) in admitted)
            {
                _prefixQueries += s.TokenCount;
                _prefixHits += computed;
            }
        step.Scheduled.AddRange(admitted);
        step.Admitted.Add(group.RequestId);
        group.FirstScheduled ??= now;
        Move(group, SequenceStatus.Running, _running);
        return true;
    }
}
