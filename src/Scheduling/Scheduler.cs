using LlmEngine.Scheduling.Blocks;
using LlmEngine.Scheduling.Sequences;

namespace LlmEngine.Scheduling;

/// <summary>
/// The iteration-level scheduler, owner of the KV cache manager, with one rule: every step, each
/// sequence's computed tokens catch up with its tokens as far as a token budget allows. Running
/// requests go first (a decode costs one token), then swapped ones, then waiting ones
/// (<see cref="AdmissionPolicy"/>); a long prompt takes what budget is left and finishes over
/// later steps (chunked prefill). A running request that cannot get a slot preempts another
/// (<see cref="PreemptionPolicy"/>). <see cref="Schedule"/> decides a step;
/// <see cref="UpdateFromOutput"/> applies its samples.
/// </summary>
public sealed partial class Scheduler(SchedulerOptions options, KvCacheManager cache)
{
    private readonly List<SequenceGroup> _running = new(), _swapped = new(), _waiting = new();
    private readonly Dictionary<string, SequenceGroup> _groups = new();
    // Every sequence until its blocks are freed, so the samples of a step in flight find theirs.
    private readonly Dictionary<long, (Sequence Sequence, SequenceGroup Group)> _sequences = new();
    private readonly List<long> _freed = new();
    private readonly List<SequenceFork> _forks = new();
    // Forks and frees the worker has not heard of yet: a step that runs nothing is not sent.
    private readonly List<SequenceFork> _unsentForks = new();
    private readonly List<long> _unsentFinished = new();
    private long _nextSequenceId = 1, _arrivals;
    // Whether the last step ran its forward pass, so the full blocks it wrote may be cached.
    private bool _lastStepWritten = true;
    // Prompt tokens looked up in the prefix cache and found there, counted once per admitted
    // sequence (an admission that waits for blocks looks its prefix up again at every step).
    private long _prefixQueries, _prefixHits;

    public SchedulerOptions Options => options;
    public KvCacheManager Cache => cache;
    public int NumRunning => _running.Count;
    public int NumWaiting => _waiting.Count;
    public int NumSwapped => _swapped.Count;
    public bool HasWork => _groups.Count > 0 || _freed.Count > 0;
    /// <summary>The requests in each queue, in arrival order.</summary>
    public IReadOnlyList<SequenceGroup> Running => _running;
    public IReadOnlyList<SequenceGroup> Waiting => _waiting;
    public IReadOnlyList<SequenceGroup> Swapped => _swapped;

    public SequenceGroup Add(IScheduledRequest request, DateTime now)
    {
        var group = new SequenceGroup(request, _arrivals++, now);
        if (group.Terms.UseBeamSearch) group.Beams = new BeamSearch(group.Terms, options.EosTokenIds);
        var sequence = new Sequence(_nextSequenceId++, 0, request.PromptTokenIds);
        group.Sequences.Add(sequence);
        _sequences.Add(sequence.Id, (sequence, group));
        _groups.Add(request.RequestId, group);
        _waiting.Add(group);
        return group;
    }

    public SequenceGroup? Find(string requestId) => _groups.GetValueOrDefault(requestId);

    /// <summary>A sample row's sequence and request; null once the sequence's blocks are freed.</summary>
    public StepSample? Sample(long sequenceId, int index) =>
        _sequences.TryGetValue(sequenceId, out var s) ? new StepSample(s.Sequence, s.Group, index) : null;

    /// <summary>Every request not yet finished, in no particular order.</summary>
    public IEnumerable<SequenceGroup> Groups => _groups.Values;

    /// <summary>Ends a request (abort, or a stop string found in its text) and frees its blocks at the next step.</summary>
    public void Finish(string requestId, int? index, string reason)
    {
        if (!_groups.TryGetValue(requestId, out var group)) return;
        foreach (var s in group.Sequences.Where(s => !s.IsFinished && (index is null || s.Index == index)))
            FinishSequence(s, reason);
        if (group.IsFinished) Remove(group);
    }

    /// <summary>The last step's forward pass failed: the K/V it was to write is not to be cached.</summary>
    public void DiscardLastStep() => _lastStepWritten = false;

    /// <summary>
    /// Applies the last step's leftovers without scheduling another: its full blocks become
    /// cacheable only if it wrote them; forks before frees, as a parent may have finished in the
    /// very step that forked it. <see cref="Schedule"/> starts with it; a scheduler held without
    /// steps (a pipeline stage without its worker) calls it so that ended requests free their blocks.
    /// </summary>
    public void Settle()
    {
        if (_lastStepWritten) cache.PublishWritten();
        else cache.DiscardUnwritten();
        _lastStepWritten = true;
        foreach (var fork in _forks) cache.Fork(fork.Parent, fork.Child);
        foreach (var id in _freed)
        {
            cache.Free(id);
            _sequences.Remove(id);
        }
        _unsentForks.AddRange(_forks);
        _unsentFinished.AddRange(_freed);
        _forks.Clear();
        _freed.Clear();
    }

    /// <summary>
    /// Decides one step: what each sequence computes, which blocks it writes, who is admitted,
    /// preempted or swapped back in, and the block moves that come first. The queues and the
    /// sequences' computed counts are updated as decided; the step's samples come back through
    /// <see cref="UpdateFromOutput"/>.
    /// </summary>
    public SchedulerOutput Schedule(DateTime now)
    {
        Settle();
        var step = new StepState(options.MaxNumBatchedTokens, options.MaxNumSeqs);
        RecomputeStale();
        int inFlight = _running.Count + _swapped.Count;

        // 1. Running requests, oldest first, each one token (or its prompt's next chunk); the
        //    budget is planned for all before any is allocated, so a preemption frees no budget.
        var running = _running.Select(g => (Group: g, Work: Plan(g, step))).Where(r => r.Work.Count > 0).ToList();
        var candidates = running.Select(r => r.Group).ToList();
        foreach (var (group, work) in running)
        {
            if (step.Preempted.Contains(group)) continue;
            while (!TryAllocate(group, work, step))
            {
                var victim = PreemptionPolicy.ChooseVictim(candidates, g => !step.Preempted.Contains(g))!;
                Preempt(victim, step);
                if (victim == group) break;
            }
        }

        // 2. Swapped requests come back in order while their blocks (and this step's) fit.
        bool swapQueueClear = true;
        foreach (var group in _swapped.Where(g => !step.Preempted.Contains(g)).ToList())
        {
            if (step.Budget <= 0) break;
            var work = Plan(group, step);
            if (work.Count == 0) continue;
            if (!swapQueueClear || step.Preempted.Count > 0 || !TrySwapIn(group, work, step)) swapQueueClear = false;
        }

        // 3. Waiting requests, as the admission policy lets them in (not those preempted just now).
        if (AdmissionPolicy.IsOpen(options.Batching, inFlight, swapQueueClear))
            AdmissionPolicy.Admit(_waiting.Where(g => !step.Preempted.Contains(g)).ToList(), group => TryAdmit(group, step, now));

        // 4. What the worker is told: only what changed since it last heard of each sequence.
        var newRequests = new List<NewRequestData>();
        var scheduled = new List<ScheduledSequence>(step.Scheduled.Count);
        var rows = new List<SampleRow>();
        foreach (var (sequence, group, numComputed, numNew) in step.Scheduled)
        {
            if (!group.Sent)
            {
                newRequests.Add(new NewRequestData(group.Request, sequence.Id));
                group.Sent = true;
                sequence.SentTokens = group.Request.PromptTokenIds.Count;
            }
            if (numComputed == 0) sequence.CachedLong = options.LongContext.IsLong(sequence.TokenCount);
            scheduled.Add(Changes(sequence, numComputed, numNew));
            sequence.NumComputed = numComputed + numNew;
            if (sequence.NumComputed == sequence.TokenCount) AddSampleRows(sequence, group, rows);
        }
        var operations = new CacheOperationsPlan(step.SwapOut, step.SwapIn, step.Copies);
        bool runs = scheduled.Count > 0 || !operations.IsEmpty;
        var output = new SchedulerOutput(newRequests, runs ? [.. _unsentForks] : [], runs ? [.. _unsentFinished] : [], scheduled, rows, operations,
            step.Admitted, step.Recomputed, step.SwappedOut, step.SwappedIn,
            Usage(DeviceTokenCounts()));
        if (runs)
        {
            _unsentForks.Clear();
            _unsentFinished.Clear();
        }
        return output;
    }

    /// <summary>Cached tokens of every sequence holding device blocks: the running ones, including
    /// any this step left without budget (an older request recomputing its cache can take it all).</summary>
    private Dictionary<long, int> DeviceTokenCounts() =>
        _running.SelectMany(g => g.Unfinished).ToDictionary(s => s.Id, s => s.NumComputed);

    /// <summary>A scheduled sequence as a change to what the worker holds: tokens appended since,
    /// and its block table from the first entry that differs. An entry that slid out of the window
    /// differs from nothing (the kernels never read it): the worker keeps whatever id it had there,
    /// or block 0 when it had none.</summary>
    private ScheduledSequence Changes(Sequence sequence, int numComputed, int numNew)
    {
        var tokens = new int[sequence.TokenCount - sequence.SentTokens];
        for (int i = 0; i < tokens.Length; i++) tokens[i] = sequence.TokenAt(sequence.SentTokens + i);
        sequence.SentTokens = sequence.TokenCount;
        var table = cache.BlockTable(sequence.Id);
        var sent = sequence.SentBlocks;
        int kept = 0;
        while (kept < sent.Length && kept < table.Count && (sent[kept] == table[kept] || table[kept] == KvCacheManager.SlidOut)) kept++;
        if (kept < sent.Length || kept < table.Count)
            sequence.SentBlocks = [.. sent[..kept], .. table.Skip(kept).Select(b => b == KvCacheManager.SlidOut ? 0 : b)];
        return new ScheduledSequence(sequence.Id, numComputed, numNew, tokens, kept, sequence.SentBlocks[kept..]);
    }

    /// <summary>The sample rows of a sequence whose tokens are all computed: one, for its own
    /// completion; or, at the first sample of a request with n parallel samples, n rows on the
    /// prompt's logits, completion i forking off when its token comes back.</summary>
    private static void AddSampleRows(Sequence sequence, SequenceGroup group, List<SampleRow> rows)
    {
        bool fanOut = !group.Sampled && group.Terms.N > 1 && !group.Terms.UseBeamSearch;
        group.Sampled = true;
        if (!fanOut) rows.Add(new SampleRow(sequence.Id, sequence.Index));
        else for (int index = 0; index < group.Terms.N; index++) rows.Add(new SampleRow(sequence.Id, index));
    }

    /// <param name="tokens">tokens held per sequence that holds device blocks</param>
    public BlockUsage Usage(IReadOnlyDictionary<long, int> tokens) => new(cache.NumTotalBlocks, cache.NumFreeBlocks, cache.AllocatedSlots,
        cache.WastedSlots(tokens), cache.SharedBlocksSaved, _prefixQueries, _prefixHits, cache.NumSharedBlocks, cache.NumUsedSwapBlocks, cache.NumEvictions);

    /// <summary>Appends sampled tokens (one per sample row, in the step's order), forks
    /// parallel samples off a finished prompt, and applies the token-level stop checks. Rows of
    /// requests that ended while the step ran are skipped.</summary>
    public IReadOnlyList<StepEvent> UpdateFromOutput(IReadOnlyList<StepSample> samples, IReadOnlyList<SampledToken> tokens, DateTime now)
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
            var reason = StopConditions.Check(target, tokens[i].TokenId, group.Terms, options.EosTokenIds, options.MaxModelLength);
            if (reason is not null) Finish(group.RequestId, target.Index, reason);
            events.Add(new StepEvent(group, target.Index, tokens[i], reason));
        }
        return events;
    }

    private Sequence ForkChild(SequenceGroup group, Sequence parent, int index)
    {
        var child = parent.Fork(_nextSequenceId++, index);
        group.Sequences.Add(child);
        _sequences.Add(child.Id, (child, group));
        _forks.Add(new SequenceFork(parent.Id, child.Id, index));
        return child;
    }

    private void FinishSequence(Sequence sequence, string reason)
    {
        if (sequence.IsFinished) return;
        sequence.FinishReason = reason;
        _freed.Add(sequence.Id);
    }

    private void Remove(SequenceGroup group)
    {
        group.Status = SequenceStatus.Finished;
        _running.Remove(group);
        _swapped.Remove(group);
        _waiting.Remove(group);
        _groups.Remove(group.RequestId);
    }

    /// <summary>Moves a request to a queue, keeping the queue in arrival order.</summary>
    private void Move(SequenceGroup group, SequenceStatus status, List<SequenceGroup> to)
    {
        _running.Remove(group);
        _swapped.Remove(group);
        _waiting.Remove(group);
        group.Status = status;
        int at = to.FindIndex(g => g.ArrivalOrder > group.ArrivalOrder);
        to.Insert(at < 0 ? to.Count : at, group);
    }
}

/// <summary>One sample row of a step as the scheduler sees it: the sequence whose logits it reads,
/// its request, and the completion index the token goes to (another index than the sequence's own
/// means a fork).</summary>
public readonly record struct StepSample(Sequence Sequence, SequenceGroup Group, int Index);
