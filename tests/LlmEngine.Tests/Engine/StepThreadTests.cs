using Akka.Actor;
using LlmEngine.Actors;
using LlmEngine.Actors.Engine;

namespace LlmEngine.Tests.Engine;

/// <summary>An engine's scheduler and worker run on one thread of their own: a hand-over between
/// them wakes no other thread, and another engine on the same ActorSystem has a thread of its own.</summary>
public class StepThreadTests : Akka.TestKit.Xunit2.TestKit
{
    private sealed class ThreadReporter : ReceiveActor
    {
        private ThreadReporter() => ReceiveAny(_ => Sender.Tell(Environment.CurrentManagedThreadId));

        public static Props Props(string dispatcher) => ActorProps.Of(() => new ThreadReporter()).WithDispatcher(dispatcher);
    }

    // The actor stays: a dispatcher without actors may end its thread (and start another later).
    private int ThreadOf(string dispatcher)
    {
        var actor = Sys.ActorOf(ThreadReporter.Props(dispatcher));
        actor.Tell("which thread");
        return ExpectMsg<int>();
    }

    [Fact]
    public void TheSchedulerAndTheWorkerOfAnEngineRunOnOneThread()
    {
        var (scheduler, worker) = StepThread.Dispatchers(Sys);
        Assert.Equal(ThreadOf(scheduler), ThreadOf(worker));
    }

    [Fact]
    public void TwoEnginesOnOneActorSystemDoNotShareTheirStepThread()
    {
        var first = StepThread.Dispatchers(Sys);
        var second = StepThread.Dispatchers(Sys);
        Assert.NotEqual(first.Scheduler, second.Scheduler);
        Assert.NotEqual(ThreadOf(first.Worker), ThreadOf(second.Worker));
    }
}
