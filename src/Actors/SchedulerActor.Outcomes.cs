using System.Diagnostics;
using Akka.Actor;
using Akka.Event;
using LlmEngine.Actors.Engine;

namespace LlmEngine.Actors;

// A step's end: its samples go to the requests' actors, a failure fails only the requests it
// touches (all of the step's when the forward pass failed), and a fatal one kills the engine.
public sealed partial class SchedulerActor
{
    private void OnExecuted(WorkerActor.StepExecuted result)
    {
        long executedAt = Stopwatch.GetTimestamp();
        // A request whose own row failed fails alone; the others of the step go on.
        var samples = result.Rows.Select(r => _scheduler.Sample(r.SequenceId, r.Index)).ToList();
        var failed = result.Output.Failures.Where(f => samples[f.Key] is not null).Select(f => (samples[f.Key]!.Value.Group.RequestId, f.Value)).ToList();
        foreach (var (id, error) in failed) Context.GetLogger().Warning("request {0} failed in its step: {1}", id, error.Message);
        Fail(failed.Select(f => f.RequestId).Distinct(), new RequestFailedException("this request's step failed (its logits or its sampling); other requests were not affected"));
        // Before the step's tokens, so that a request's first output carries its scored prompt.
        foreach (var scored in result.Output.Prompts.GroupBy(p => p.RequestId))
            if (_sequences.TryGetValue(scored.Key, out var scoredActor))
                scoredActor.Tell(new SequenceActor.PromptScored([.. scored.Select(p => (p.Position, p.Logprob))]));
        var kept = Enumerable.Range(0, samples.Count).Where(i => result.Output.Samples[i] is not null && samples[i] is { Group.IsFinished: false }).ToList();
        var events = _scheduler.UpdateFromOutput([.. kept.Select(i => samples[i]!.Value)], [.. kept.Select(i => result.Output.Samples[i]!)], DateTime.UtcNow);
        // Recorded before the outputs leave, so that a request's end in the trace never follows
        // the moment its caller sees it end, and a trace stopped then still holds it.
        _recorder.Executed(_committed, result.ComputeSeconds, result.SampleSeconds, events, _scheduler, executedAt);
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
        EndStep();
    }

    private void OnFailed(WorkerActor.StepFailed failure)
    {
        Context.GetLogger().Error(failure.Error, "step failed");
        if (WorkerFaults.IsFatal(failure.Error))
        {
            Die(failure.Error.GetType().Name + ": " + failure.Error.Message.Split('\n')[0]);
            return;
        }
        // The forward pass itself failed: no request in it can be singled out, and its K/V is not to be trusted.
        _scheduler.DiscardLastStep();
        Fail(_committed.Select(c => c.Group.RequestId).Distinct(), new RequestFailedException("the model step that ran this request failed"));
        EndStep();
    }

    // The worker cannot be trusted any more: every request fails, none is admitted, no step runs.
    private void Die(string reason)
    {
        _health.Kill(reason);
        Fail([.. _sequences.Keys], new EngineDeadException(reason));
        _committed = [];
        _meter.Snapshot(_scheduler);
        Idle();
    }

    private void Fail(IEnumerable<string> requestIds, Exception error)
    {
        foreach (var id in requestIds.ToList())
        {
            Abort(id, "error", error is EngineDeadException ? AbortReasons.EngineDead : AbortReasons.Error);
            if (_sequences.Remove(id, out var actor)) actor.Tell(new SequenceActor.Failed(error));
        }
        _meter.Snapshot(_scheduler);
    }

    // Ends a request's unfinished completions with "abort"; observers learn why it ended, and the
    // abort count its reason (<see cref="AbortReasons"/>).
    private void Abort(string requestId, string reason, string abortReason)
    {
        if (_scheduler.Find(requestId) is not null)
        {
            _recorder.Finished(requestId, reason);
            _meter.OnAbort(abortReason);
        }
        _scheduler.Finish(requestId, null, "abort");
    }

    private void EndStep()
    {
        _committed = [];
        Idle();
        TryStartStep();
    }

    private void Idle()
    {
        _inFlight = false;
        Stash.UnstashAll();
    }
}
