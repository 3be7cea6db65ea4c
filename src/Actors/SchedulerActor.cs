using System.Diagnostics;
using System.Threading.Channels;
using Akka.Actor;
using Akka.Event;
using LlmEngine.Actors.Engine;
using LlmEngine.Actors.Observing;
using LlmEngine.Kernels.Tokenizers;
using LlmEngine.Scheduling.Blocks;
using LlmEngine.Scheduling.Sequences;
using LlmEngine.Scheduling;

namespace LlmEngine.Actors;

/// <summary>
/// Runs the step loop: the thin owner of order and supervision around the <see cref="Scheduler"/>.
/// Per step it exchanges a fixed number of messages whatever the batch size: one step to the
/// worker and its samples back, then one message per request that received tokens. Requests
/// become child Sequence actors; a failed step fails only the requests in it and the loop goes on
/// (a step's end: <c>SchedulerActor.Outcomes.cs</c>).
/// <code>
///  Scheduler.Schedule -> Worker.ExecuteStep(changes) -> Scheduler.UpdateFromOutput -> Sequence actors
/// </code>
/// </summary>
public sealed partial class SchedulerActor : ReceiveActor, IWithUnboundedStash, IWithTimers
{
    /// <summary>A request the engine accepted at <see cref="AcceptedAt"/> (when the message was made, by the caller):
    /// its arrival, so the time before the scheduler reads its mailbox counts as queueing, in the timings and the trace.</summary>
    public sealed record AddRequest(GenerationRequest Request, ChannelWriter<RequestOutput> Output)
    {
        public RequestAcceptance AcceptedAt { get; init; } = RequestAcceptance.Now();
    }
    /// <summary>Ends a request early; <see cref="Reason"/> labels the abort count (<see cref="AbortReasons"/>).</summary>
    public sealed record AbortRequest(string RequestId, string Reason = AbortReasons.Client);
    /// <summary>Shutdown: every request ends now, its stream with a final "abort" output.</summary>
    public sealed record AbortAll;
    public sealed record StopCompletion(string RequestId, int Index);
    /// <summary>Answered once no step is in flight, so the figures include the last step's frees.</summary>
    public sealed record GetStatistics;
    /// <summary>Publishes an <see cref="EngineSnapshot"/> to the observer at the next step boundary.</summary>
    public sealed record TakeSnapshot;

    private readonly Scheduler _scheduler;
    private readonly IActorRef _worker;
    private readonly ITokenizer? _tokenizer;
    private readonly EngineMeter _meter;
    private readonly EngineHealth _health;
    private readonly StepRecorder _recorder;
    private bool _snapshotWanted;
    private readonly Dictionary<string, IActorRef> _sequences = new();
    private bool _inFlight;
    private IReadOnlyList<(SequenceGroup Group, ScheduledSequence Work)> _committed = [];
    private readonly Stopwatch _stepClock = new();
    private readonly StepHold? _hold;

    public IStash Stash { get; set; } = null!;
    public ITimerScheduler Timers { get; set; } = null!;

    /// <summary>Checks the block pool's invariants (for tests), answered with <see cref="InvariantsChecked"/>.</summary>
    public sealed record CheckInvariants;
    /// <summary>The step gate may have opened (a pipeline stage is back), or a held request's wait may be over: look again.</summary>
    public sealed record Recheck;
    public sealed record InvariantsChecked(string? Violation);

    /// <param name="hold">holds the queues while a part of the model is missing (null: it never is)</param>
    internal static Props Props(Scheduler scheduler, Props worker, ITokenizer? tokenizer, EngineMeter meter, EngineObserver observer, EngineHealth health,
        StepHold? hold = null) =>
        ActorProps.Of(() => new SchedulerActor(scheduler, worker, tokenizer, meter, observer, health, hold));

    private SchedulerActor(Scheduler scheduler, Props worker, ITokenizer? tokenizer, EngineMeter meter, EngineObserver observer, EngineHealth health,
        StepHold? hold)
    {
        _scheduler = scheduler;
        _hold = hold;
        _tokenizer = tokenizer;
        _meter = meter;
        _health = health;
        _recorder = new StepRecorder(observer);
        _worker = Context.ActorOf(worker, "worker");

        Receive<AddRequest>(message =>
        {
            if (Refusal(message.Request) is { } refusal)
            {
                message.Output.TryComplete(refusal);
                return;
            }
            var group = _scheduler.Add(message.Request, message.AcceptedAt.Utc);
            _sequences[message.Request.RequestId] = Context.ActorOf(
                SequenceActor.Props(message.Request, message.Output, Self, _tokenizer, group.Arrival), "request-" + group.ArrivalOrder);
            _meter.OnArrival(message.Request.PromptTokenIds.Count);
            _recorder.Arrived(message.Request, message.AcceptedAt.Timestamp);
            Changed();
        });
        Receive<AbortRequest>(message =>
        {
            Abort(message.RequestId, "abort", message.Reason);
            // A client that left reads nothing more; any other reason (a deadline) still ends the stream with a final "abort" output.
            if (_sequences.Remove(message.RequestId, out var actor))
                if (message.Reason == AbortReasons.Client) Context.Stop(actor);
                else actor.Tell(new SequenceActor.Aborted());
            Changed();
        });
        Receive<AbortAll>(_ =>
        {
            foreach (var (id, actor) in _sequences)
            {
                Abort(id, "abort", AbortReasons.Shutdown);
                actor.Tell(new SequenceActor.Aborted());
            }
            _sequences.Clear();
            Changed();
        });
        Receive<StopCompletion>(message =>
        {
            _scheduler.Finish(message.RequestId, message.Index, "stop");
            if (_scheduler.Find(message.RequestId) is null && _sequences.Remove(message.RequestId)) _recorder.Finished(message.RequestId, "stop");
            Changed();
        });
        Receive<WorkerActor.StepExecuted>(result => Guarded(() => OnExecuted(result), "completing"));
        Receive<WorkerActor.StepFailed>(OnFailed);
        Receive<TakeSnapshot>(_ =>
        {
            _snapshotWanted = true;
            if (!_inFlight) Snapshot();
        });
        Receive<CheckInvariants>(_ =>
        {
            if (_inFlight) Stash.Stash();
            else Sender.Tell(new InvariantsChecked(Violation()));
        });
        Receive<Recheck>(_ => Changed());
        Receive<GetStatistics>(_ =>
        {
            if (_inFlight) Stash.Stash();
            else Sender.Tell(_meter.Snapshot(_scheduler));
        });
    }

    protected override SupervisorStrategy SupervisorStrategy() =>
        // The worker holds the model and the KV cache: keep its state on an error (the scheduler
        // fails the affected requests itself); a request's actor is simply stopped.
        new OneForOneStrategy(error => Sender.Equals(_worker) ? Directive.Resume : Directive.Stop);

    private string? Violation()
    {
        try
        {
            _scheduler.Cache.CheckInvariants();
            return null;
        }
        catch (Exception error)
        {
            return error.Message;
        }
    }

    // A bug in one step must not take the loop (and every queued request) down with it: fail the
    // requests of that step and go on.
    private void Guarded(Action handler, string stage)
    {
        try
        {
            handler();
        }
        catch (Exception error)
        {
            Context.GetLogger().Error(error, "step failed while {0}", stage);
            _scheduler.DiscardLastStep();
            if (stage != "scheduling")
            {
                Fail(_committed.Select(c => c.Group.RequestId).Distinct(), new RequestFailedException($"internal error while {stage} this request's step"));
                EndStep();
                return;
            }
            // Scheduling stopped halfway, so no queue can be trusted: every request fails, and the
            // next event schedules again (at once could fail the same way for ever).
            Fail([.. _scheduler.Groups.Select(g => g.RequestId)], new RequestFailedException("internal error while scheduling this request's step"));
            _committed = [];
            Idle();
        }
    }

    // Why a new request is not queued: the engine is dead, its id is in flight already, or the
    // waiting queue is full (the client may retry; queueing it would only make every wait longer).
    private Exception? Refusal(GenerationRequest request)
    {
        if (_health.DeadReason is { } reason) return new EngineDeadException(reason);
        if (_scheduler.Find(request.RequestId) is not null || _sequences.ContainsKey(request.RequestId))
            return new ArgumentException($"a request with id '{request.RequestId}' is already in flight", "request_id");
        if (_scheduler.NumWaiting >= _scheduler.Options.MaxWaitingRequests)
        {
            _meter.OnRejected();
            return new EngineOverloadedException($"the engine's waiting queue is full ({_scheduler.NumWaiting} requests); retry later", TimeSpan.FromSeconds(1));
        }
        return null;
    }

    // Every change of the queues refreshes the gauges, so they never lag behind an abort or a failure.
    private void Changed()
    {
        _meter.Snapshot(_scheduler);
        TryStartStep();
    }

    private void TryStartStep()
    {
        if (_inFlight || !_scheduler.HasWork || _health.DeadReason is not null || Held()) return;
        _inFlight = true;
        _stepClock.Restart();
        _recorder.Proposed();
        Guarded(StartStep, "scheduling");
    }

    private void StartStep()
    {
        var output = _scheduler.Schedule(DateTime.UtcNow);
        _meter.OnAllocation(output);
        if (output.IsEmpty)
        {
            // Nothing runs: every waiting request waits for blocks; the next event schedules again.
            Idle();
            return;
        }
        _committed = [.. output.Scheduled.Select(w => (_scheduler.Sample(w.SequenceId, 0)!.Value.Group, w))];
        _recorder.Allocated(output);
        _worker.Tell(new WorkerActor.ExecuteStep(output));
        // The worker computes; the pool and the queues hold still until its samples come back.
        if (_snapshotWanted) Snapshot();
    }

    // While a part of the model is missing no step runs (it could only fail): the queues hold,
    // ended requests still free their blocks, and a request whose wait is over fails (503 naming
    // the missing part). When the part comes back empty, nothing cached on it is trusted.
    private bool Held()
    {
        if (_hold is null) return false;
        var now = DateTime.UtcNow;
        if (_hold.Check(now, out bool reloaded) is not { } reason)
        {
            if (reloaded) _scheduler.ForgetComputed();
            return false;
        }
        Fail([.. _hold.Expired(_scheduler.Groups, now)], new EngineUnavailableException(reason));
        _scheduler.Settle();
        _meter.Snapshot(_scheduler);
        if (_scheduler.HasWork && !Timers.IsTimerActive(nameof(Recheck))) Timers.StartSingleTimer(nameof(Recheck), new Recheck(), _hold.Recheck);
        return true;
    }

    // Taken between this step's scheduling and the next one's, so the block map matches the requests.
    private void Snapshot()
    {
        _snapshotWanted = false;
        _recorder.SnapshotRequested(_scheduler);
        _recorder.Mapped(_scheduler.Cache.Map());
    }
}
