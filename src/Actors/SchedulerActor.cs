using System.Diagnostics;
using System.Threading.Channels;
using Akka.Actor;
using Akka.Event;
using LlmEngine.Actors.Blocks;
using LlmEngine.Actors.Engine;
using LlmEngine.Actors.Observing;
using LlmEngine.Actors.Scheduling;
using LlmEngine.Actors.Sequences;
using LlmEngine.Kernels.Runtime;
using LlmEngine.Kernels.Tokenizers;

namespace LlmEngine.Actors;

/// <summary>
/// Runs the step loop. Per step it exchanges a fixed number of messages whatever the batch size:
/// one proposal to the block manager and its allocation back, one step to the worker and its
/// samples back, then one message per request that received tokens. Requests become child
/// Sequence actors; a failed step fails only the requests in it and the loop goes on.
/// <code>
///  Propose -> BlockManager.AllocateStep -> Commit + StepBuilder -> Worker.ExecuteStep -> Complete -> Sequence actors
/// </code>
/// </summary>
public sealed class SchedulerActor : ReceiveActor, IWithUnboundedStash
{
    public sealed record AddRequest(GenerationRequest Request, ChannelWriter<RequestOutput> Output);
    public sealed record AbortRequest(string RequestId);
    /// <summary>Shutdown: every request ends now, its stream with a final "abort" output.</summary>
    public sealed record AbortAll;
    public sealed record StopCompletion(string RequestId, int Index);
    /// <summary>Answered once no step is in flight, so the figures include the last step's frees.</summary>
    public sealed record GetStatistics;
    /// <summary>Publishes an <see cref="EngineSnapshot"/> to the observer at the next step boundary.</summary>
    public sealed record TakeSnapshot;

    private readonly Scheduler _scheduler;
    private readonly IActorRef _blockManager, _worker;
    private readonly ITokenizer? _tokenizer;
    private readonly EngineMeter _meter;
    private readonly StepRecorder _recorder;
    private bool _snapshotWanted;
    private readonly Dictionary<string, IActorRef> _sequences = new();
    private bool _inFlight;
    // Something arrived (a request, an abort, a stop) since the last proposal was made.
    private bool _changed;
    private IReadOnlyList<(Sequence Sequence, SequenceGroup Group, ScheduledSequence Work)> _committed = [];
    private IReadOnlyList<StepSample> _samples = [];
    private readonly Stopwatch _stepClock = new();

    public IStash Stash { get; set; } = null!;

    public static Props Props(Scheduler scheduler, Props blockManager, Props worker, ITokenizer? tokenizer, EngineMeter meter, EngineObserver observer) =>
        Akka.Actor.Props.Create(() => new SchedulerActor(scheduler, blockManager, worker, tokenizer, meter, observer));

    public SchedulerActor(Scheduler scheduler, Props blockManager, Props worker, ITokenizer? tokenizer, EngineMeter meter, EngineObserver observer)
    {
        _scheduler = scheduler;
        _tokenizer = tokenizer;
        _meter = meter;
        _recorder = new StepRecorder(observer);
        _blockManager = Context.ActorOf(blockManager, "block-manager");
        _worker = Context.ActorOf(worker, "worker");

        Receive<AddRequest>(message =>
        {
            var group = _scheduler.Add(message.Request, DateTime.UtcNow);
            _sequences[message.Request.RequestId] = Context.ActorOf(
                SequenceActor.Props(message.Request, message.Output, Self, _tokenizer), "request-" + group.ArrivalOrder);
            _meter.OnArrival(message.Request.PromptTokenIds.Count);
            _recorder.Arrived(message.Request);
            _meter.Snapshot(_scheduler);
            _changed = true;
            TryStartStep();
        });
        Receive<AbortRequest>(message =>
        {
            Abort(message.RequestId, "abort");
            if (_sequences.Remove(message.RequestId, out var actor)) Context.Stop(actor);
            _changed = true;
            TryStartStep();
        });
        Receive<AbortAll>(_ =>
        {
            foreach (var (id, actor) in _sequences)
            {
                Abort(id, "abort");
                actor.Tell(new SequenceActor.Aborted());
            }
            _sequences.Clear();
            _changed = true;
            TryStartStep();
        });
        Receive<StopCompletion>(message =>
        {
            _scheduler.Finish(message.RequestId, message.Index, "stop");
            if (_scheduler.Find(message.RequestId) is null && _sequences.Remove(message.RequestId)) _recorder.Finished(message.RequestId, "stop");
            _changed = true;
            TryStartStep();
        });
        Receive<StepAllocation>(allocation => Guarded(() => OnAllocation(allocation), allocation.Scheduled.Count > 0 ? "scheduling" : null));
        Receive<WorkerActor.StepExecuted>(result => Guarded(() => OnExecuted(result), "completing a step"));
        Receive<WorkerActor.StepFailed>(OnFailed);
        Receive<BlockManagerActor.AllocationFailed>(message =>
        {
            Fail(message.Proposal.Groups.Select(g => g.RequestId), $"block allocation failed: {message.Error.Message}");
            EndStep();
        });
        Receive<TakeSnapshot>(_ =>
        {
            _snapshotWanted = true;
            if (!_inFlight) Snapshot();
        });
        Receive<BlockMap>(_recorder.Mapped);
        Receive<GetStatistics>(_ =>
        {
            if (_inFlight) Stash.Stash();
            else Sender.Tell(_meter.Snapshot(_scheduler));
        });
    }

    protected override SupervisorStrategy SupervisorStrategy() =>
        // Worker and block manager hold the model and the pool: keep their state on an error
        // (the scheduler fails the affected requests itself); a request's actor is simply stopped.
        new OneForOneStrategy(error => Sender.Equals(_worker) || Sender.Equals(_blockManager) ? Directive.Resume : Directive.Stop);

    // A bug in one step must not take the loop (and every queued request) down with it: fail the
    // requests of that step and go on.
    private void Guarded(Action handler, string? stage)
    {
        try
        {
            handler();
        }
        catch (Exception error)
        {
            Context.GetLogger().Error(error, "step failed while {0}", stage ?? "allocating");
            Fail(_committed.Select(c => c.Group.RequestId).Distinct(), $"internal error while {stage ?? "allocating"}: {error.Message}");
            EndStep();
        }
    }

    private void TryStartStep()
    {
        if (_inFlight || !_scheduler.HasWork) return;
        _inFlight = true;
        _changed = false;
        _stepClock.Restart();
        _recorder.Proposed();
        _blockManager.Tell(new BlockManagerActor.AllocateStep(_scheduler.Propose()));
    }

    private void OnAllocation(StepAllocation allocation)
    {
        _committed = _scheduler.Commit(allocation, DateTime.UtcNow);
        _meter.OnAllocation(allocation);
        var (step, samples) = StepBuilder.Build(_committed, allocation.CacheOperations, _scheduler.Options.EosTokenIds);
        _samples = samples;
        if (step.NumTokens == 0 && step.CacheOperations.IsEmpty)
        {
            // Nothing ran: either all waiting requests wait for blocks (then wait for the next
            // event), or the proposal predates a request that arrived meanwhile (then propose again).
            Idle();
            if (_changed || _scheduler.HasPendingBlockWork) TryStartStep();
            return;
        }
        _recorder.Allocated(allocation);
        _worker.Tell(new WorkerActor.ExecuteStep(step));
        // The worker computes; the pool and the queues hold still until its samples come back.
        if (_snapshotWanted) Snapshot();
    }

    // The block manager answers after this step's allocation and before the next one's, so the
    // map it sends matches the requests captured here.
    private void Snapshot()
    {
        _snapshotWanted = false;
        _recorder.SnapshotRequested(_scheduler);
        _blockManager.Tell(new BlockManagerActor.MapBlocks());
    }

    private void OnExecuted(WorkerActor.StepExecuted result)
    {
        long executedAt = Stopwatch.GetTimestamp();
        var events = _scheduler.Complete(_samples, result.Samples, DateTime.UtcNow);
        foreach (var byRequest in events.GroupBy(e => e.Group))
        {
            var group = byRequest.Key;
            if (!_sequences.TryGetValue(group.RequestId, out var actor)) continue;
            if (byRequest.FirstOrDefault(e => e.Beams is not null) is { Beams: { } beams })
                actor.Tell(new SequenceActor.BeamsFinished(beams, group.FirstScheduled, group.FirstToken));
            else
                actor.Tell(new SequenceActor.TokensAppended(byRequest.Select(e => (e.Index, e.Token!, e.FinishReason)).ToList(), group.FirstScheduled, group.FirstToken));
            if (group.IsFinished)
            {
                _sequences.Remove(group.RequestId);
                _meter.OnSuccess();
            }
        }
        _meter.OnStep(_committed.Sum(c => c.Work.NumNew), events.Count, result.ComputeSeconds, _stepClock.Elapsed.TotalSeconds, _scheduler);
        _recorder.Executed(_committed, result.ComputeSeconds, result.SampleSeconds, events, _scheduler, executedAt);
        EndStep();
    }

    private void OnFailed(WorkerActor.StepFailed failure)
    {
        Fail(_committed.Select(c => c.Group.RequestId).Distinct(), $"step failed: {failure.Error.Message}");
        EndStep();
    }

    private void Fail(IEnumerable<string> requestIds, string message)
    {
        foreach (var id in requestIds.ToList())
        {
            Abort(id, "error");
            if (_sequences.Remove(id, out var actor)) actor.Tell(new SequenceActor.Failed(message));
        }
    }

    // Ends a request's unfinished completions with "abort"; observers learn why it ended.
    private void Abort(string requestId, string reason)
    {
        if (_scheduler.Find(requestId) is not null) _recorder.Finished(requestId, reason);
        _scheduler.Finish(requestId, null, "abort");
    }

    private void EndStep()
    {
        _committed = [];
        _samples = [];
        Idle();
        TryStartStep();
    }

    private void Idle()
    {
        _inFlight = false;
        Stash.UnstashAll();
    }
}
