using System.Diagnostics;
using LlmEngine.Actors.Engine;
using LlmEngine.Scheduling.Blocks;
using LlmEngine.Scheduling.Sequences;
using LlmEngine.Scheduling;

namespace LlmEngine.Actors.Observing;

/// <summary>
/// Turns the scheduler actor's moments (a step proposed, allocated, executed; a request added or
/// ended; a snapshot taken) into <see cref="EngineEvent"/>s. While nobody observes it only reads
/// the clock and counts steps, so an unobserved engine pays nothing more.
/// </summary>
internal sealed class StepRecorder(EngineObserver observer)
{
    private long _step, _start, _allocated;
    private long _evictions;
    private SchedulerOutput? _allocation;
    // Request states captured when a block map was asked for, published with its answer.
    private readonly Queue<(long Step, long Time, IReadOnlyList<RequestState> Requests)> _snapshots = new();

    public void Arrived(GenerationRequest request, long acceptedAt)
    {
        if (observer.IsObserved)
            observer.Publish(new RequestArrived(acceptedAt, request.RequestId, request.PromptTokenIds.Count, request.Sampling.N));
    }

    public void Finished(string requestId, string reason) => Finished(requestId, reason, Stopwatch.GetTimestamp());

    public void Proposed() => _start = Stopwatch.GetTimestamp();

    /// <summary>The allocation of a step that goes to the worker now.</summary>
    public void Allocated(SchedulerOutput allocation)
    {
        _step++;
        _allocated = Stopwatch.GetTimestamp();
        _allocation = allocation;
    }

    public void Executed(IReadOnlyList<(SequenceGroup Group, ScheduledSequence Work)> committed,
        double computeSeconds, double sampleSeconds, IReadOnlyList<StepEvent> events, Scheduler scheduler, long executedAt)
    {
        var allocation = _allocation!;
        _allocation = null;
        long evictions = allocation.Usage.Evictions - _evictions;
        _evictions = allocation.Usage.Evictions;
        if (!observer.IsObserved) return;
        long end = Stopwatch.GetTimestamp();
        var admitted = allocation.Admitted.ToHashSet();
        var batch = committed.GroupBy(c => c.Group).Select(g =>
        {
            int decode = g.Count(c => c.Work.NumNew == 1 && c.Work.NumComputed >= c.Group.Request.PromptTokenIds.Count);
            int all = g.Sum(c => c.Work.NumNew);
            bool isAdmitted = admitted.Contains(g.Key.RequestId);
            return new StepRequest(g.Key.RequestId, g.Count(), all - decode, decode, isAdmitted, isAdmitted ? g.Max(c => c.Work.NumComputed) : 0);
        }).ToList();
        observer.Publish(new StepRecord(end, _step, _start, _allocated, executedAt, computeSeconds, sampleSeconds, batch,
            allocation.PreemptedByRecompute, allocation.SwappedOut, allocation.SwappedIn, allocation.CacheOperations.Copies.Count,
            (int)evictions, allocation.Usage, scheduler.NumRunning, scheduler.NumWaiting, scheduler.NumSwapped, events.Count));
        foreach (var group in events.Select(e => e.Group).Distinct().Where(g => g.IsFinished))
            Finished(group.RequestId, group.Sequences[0].FinishReason ?? "stop", end);
    }

    /// <summary>Captures the requests now; the block map asked for at the same moment completes the snapshot.</summary>
    public void SnapshotRequested(Scheduler scheduler)
    {
        var requests = scheduler.Groups.Select(g => new RequestState(g.RequestId, g.Status, g.Request.PromptTokenIds.Count,
            g.Sequences.Select(s => new SequenceState(s.Id, s.Index, s.OutputTokenIds.Count, s.NumComputed, s.IsFinished)).ToList(),
            g.Arrival, g.FirstToken, g.NumPreemptions)).ToList();
        _snapshots.Enqueue((_step, Stopwatch.GetTimestamp(), requests));
    }

    public void Mapped(BlockMap map)
    {
        if (!_snapshots.TryDequeue(out var s)) return;
        observer.Publish(new EngineSnapshot(s.Time, s.Step, map, s.Requests));
    }

    private void Finished(string requestId, string reason, long time)
    {
        if (observer.IsObserved) observer.Publish(new RequestFinished(time, requestId, reason));
    }
}
