using LlmEngine.Actors.Engine;
using LlmEngine.Actors.Sequences;
using LlmEngine.Kernels.Sampling;

namespace LlmEngine.Actors.Scheduling;

/// <summary>
/// The iteration-level scheduling policy with one rule: every step, each sequence's computed
/// tokens catch up with its tokens as far as a token budget allows. Running requests go first
/// (a decode costs one token), then swapped ones, then waiting ones first come first served;
/// a long prompt takes what budget is left and finishes over later steps (chunked prefill).
/// Blocks are decided by the block manager (<see cref="StepAllocator"/>); this class keeps the
/// queues and the sequences' tokens.
/// </summary>
public sealed partial class Scheduler(SchedulerOptions options)
{
    private readonly List<SequenceGroup> _running = new(), _swapped = new(), _waiting = new();
    private readonly Dictionary<string, SequenceGroup> _groups = new();
    private readonly List<long> _freed = new();
    private readonly List<(long, long)> _forks = new();
    private long _nextSequenceId = 1, _arrivals;

    public SchedulerOptions Options => options;
    public int NumRunning => _running.Count;
    public int NumWaiting => _waiting.Count;
    public int NumSwapped => _swapped.Count;
    public bool HasWork => _groups.Count > 0 || _freed.Count > 0;
    public bool HasPendingBlockWork => _freed.Count > 0 || _forks.Count > 0;

    public SequenceGroup Add(GenerationRequest request, DateTime now)
    {
        var group = new SequenceGroup(request, _arrivals++, now)
        {
            Beams = request.Sampling.UseBeamSearch ? new BeamSearch(request.Sampling, options.EosTokenIds) : null,
        };
        group.Sequences.Add(new Sequence(_nextSequenceId++, 0, request.PromptTokenIds, group.Randoms[0]).Constrained(request.Sampling.Guide));
        _groups.Add(request.RequestId, group);
        _waiting.Add(group);
        return group;
    }

    public SequenceGroup? Find(string requestId) => _groups.GetValueOrDefault(requestId);

    /// <summary>Every request not yet finished, in no particular order.</summary>
    public IEnumerable<SequenceGroup> Groups => _groups.Values;

    /// <summary>Ends a request (abort, or a stop string found in its text) and frees its blocks at the next step.</summary>
    public void Finish(string requestId, int? index, string reason)
    {
        if (!_groups.TryGetValue(requestId, out var group)) return;
        foreach (var s in group.Sequences.Where(s => !s.IsFinished && (index is null || s.Index == index)))
        {
            s.FinishReason = reason;
            _freed.Add(s.Id);
        }
        if (group.IsFinished) Remove(group);
    }

    /// <param name="lastStepWritten">whether the step before ran its forward pass (its K/V may be cached)</param>
    public StepProposal Propose(bool lastStepWritten = true)
    {
        int budget = options.MaxNumBatchedTokens, seats = options.MaxNumSeqs;
        var groups = new List<GroupWork>();
        foreach (var g in _running) groups.Add(Work(g, GroupPhase.Running, ref budget, ref seats));
        foreach (var g in _swapped)
        {
            if (budget <= 0) break;
            groups.Add(Work(g, GroupPhase.Swapped, ref budget, ref seats));
        }
        bool admit = options.Batching == BatchingMode.Continuous || (_running.Count == 0 && _swapped.Count == 0);
        foreach (var g in admit ? _waiting : [])
        {
            if (budget <= 0 || seats < g.Unfinished.Count()) break;
            groups.Add(Work(g, GroupPhase.Waiting, ref budget, ref seats));
        }
        var proposal = new StepProposal(groups.Where(g => g.Sequences.Count > 0).ToList(), _freed.ToList(), _forks.ToList(), options.PreemptionMode, lastStepWritten);
        _freed.Clear();
        _forks.Clear();
        return proposal;
    }

    private GroupWork Work(SequenceGroup group, GroupPhase phase, ref int budget, ref int seats)
    {
        var works = new List<SequenceWork>();
        // Beams advance together or not at all: each step ranks all of their candidates.
        if (group.Beams is not null && group.Unfinished.Sum(s => s.Remaining) > budget)
            return new GroupWork(group.RequestId, group.ArrivalOrder, phase, works);
        foreach (var s in group.Unfinished)
        {
            int count = Math.Min(s.Remaining, budget);
            seats--;
            if (count <= 0) continue;
            budget -= count;
            works.Add(new SequenceWork(s.Id, s.AllTokens(), s.NumComputed, count));
        }
        int reserve = options.KvLayout == KvLayout.Reserved
            ? Math.Min(group.Request.PromptTokenIds.Count + group.Request.Sampling.MaxTokens, options.MaxModelLength) : 0;
        return new GroupWork(group.RequestId, group.ArrivalOrder, phase, works, reserve);
    }

    /// <summary>Applies the block manager's answer to the queues; returns what runs this step,
    /// with each sequence's computed count already advanced past this step's tokens.</summary>
    public IReadOnlyList<(Sequence Sequence, SequenceGroup Group, ScheduledSequence Work)> Commit(StepAllocation allocation, DateTime now)
    {
        // A request aborted while this step was being allocated is gone from _groups; its
        // sequences are in _freed, so the next proposal frees whatever this step gave them.
        foreach (var id in allocation.PreemptedByRecompute) if (_groups.TryGetValue(id, out var g)) Move(g, SequenceStatus.Waiting, _waiting, reset: true);
        foreach (var id in allocation.SwappedOut) if (_groups.TryGetValue(id, out var g)) Move(g, SequenceStatus.Swapped, _swapped, reset: false);
        foreach (var id in allocation.SwappedIn) if (_groups.TryGetValue(id, out var g)) Move(g, SequenceStatus.Running, _running, reset: false);
        foreach (var id in allocation.Admitted)
        {
            if (!_groups.TryGetValue(id, out var g)) continue;
            g.FirstScheduled ??= now;
            Move(g, SequenceStatus.Running, _running, reset: false);
        }
        var byId = _running.SelectMany(g => g.Sequences.Select(s => (s, g))).ToDictionary(p => p.s.Id);
        var scheduled = new List<(Sequence, SequenceGroup, ScheduledSequence)>();
        foreach (var work in allocation.Scheduled)
        {
            if (!byId.TryGetValue(work.SequenceId, out var entry) || entry.s.IsFinished) continue;
            var (s, g) = entry;
            s.NumComputed = work.NumComputed + work.NumNew;
            scheduled.Add((s, g, work));
        }
        return scheduled;
    }

    private void Move(SequenceGroup group, SequenceStatus status, List<SequenceGroup> to, bool reset)
    {
        _running.Remove(group);
        _swapped.Remove(group);
        _waiting.Remove(group);
        if (reset)
        {
            group.NumPreemptions++;
            foreach (var s in group.Sequences) s.NumComputed = 0;
        }
        group.Status = status;
        int at = to.FindIndex(g => g.ArrivalOrder > group.ArrivalOrder);
        to.Insert(at < 0 ? to.Count : at, group);
    }

    /// <summary>Appends sampled tokens (one per sample row, in the step builder's order), forks
    /// parallel samples off a finished prompt, and applies the token-level stop checks.</summary>
    public IReadOnlyList<StepEvent> Complete(IReadOnlyList<StepSample> samples, IReadOnlyList<SampledToken> tokens, DateTime now)
    {
        var events = new List<StepEvent>();
        var beamSamples = Enumerable.Range(0, samples.Count).Where(i => samples[i].Group.Beams is not null).ToList();
        foreach (var byGroup in beamSamples.GroupBy(i => samples[i].Group))
            AdvanceBeams(byGroup.Key, byGroup.Select(i => (samples[i].Sequence, tokens[i])).ToList(), now, events);
        // Fork before appending, so that children copy the parent as it was before this step's token.
        var targets = samples.Select(s => s.Sequence.IsFinished || s.Group.Beams is not null ? null
            : s.Index == s.Sequence.Index ? s.Sequence : ForkChild(s.Group, s.Sequence, s.Index)).ToList();
        for (int i = 0; i < samples.Count; i++)
        {
            var target = targets[i];
            if (target is null) continue;
            var group = samples[i].Group;
            target.Append(tokens[i]);
            group.FirstToken ??= now;
            var sampling = group.Request.Sampling;
            var reason = StopConditions.Check(target, tokens[i].TokenId, sampling, options.EosTokenIds, options.MaxModelLength);
            if (reason is not null) Finish(group.RequestId, target.Index, reason);
            events.Add(new StepEvent(group, target.Index, tokens[i], reason));
        }
        foreach (var g in samples.Select(s => s.Group).Distinct()) g.FannedOut = true;
        return events;
    }

    private Sequence ForkChild(SequenceGroup group, Sequence parent, int index)
    {
        var child = parent.Fork(_nextSequenceId++, index, group.Randoms[Math.Min(index, group.Randoms.Length - 1)]);
        group.Sequences.Add(child);
        _forks.Add((parent.Id, child.Id));
        return child;
    }

    private void Remove(SequenceGroup group)
    {
        group.Status = SequenceStatus.Finished;
        _running.Remove(group);
        _swapped.Remove(group);
        _waiting.Remove(group);
        _groups.Remove(group.RequestId);
    }
}

/// <summary>One sample row of a step: the sequence whose logits it reads, its group, and the
/// completion index the token goes to (another index than the sequence's own means a fork).</summary>
public readonly record struct StepSample(Sequence Sequence, SequenceGroup Group, int Index);
