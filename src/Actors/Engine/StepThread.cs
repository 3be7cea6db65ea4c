using Akka.Actor;
using Akka.Configuration;
using Akka.Dispatch;

namespace LlmEngine.Actors.Engine;

/// <summary>
/// The thread an engine's scheduler and worker actors run on. A step is a round trip between the
/// two (the step to the worker, its samples back) and neither has anything to do while the other
/// works, so they share one dedicated thread: each hand-over is a mailbox the same thread runs next,
/// where two pinned threads paid a wake-up per hop, and each thread's pool spun its core for a while
/// after every message (the idle one competed with the kernels' threads on a two-core machine).
/// Messages that arrive during a forward pass (new requests, aborts) wait for its end, as their
/// effects did before: the queues hold still while a step is in flight. The dispatcher is the
/// engine's own (several engines on one ActorSystem do not share it). <c>LLM_STEP_THREAD=pinned</c>
/// gives each of the two its own pinned thread again, to compare.
/// </summary>
internal static class StepThread
{
    public const string SchedulerPinned = "akka.actor.scheduler-dispatcher";

    private static readonly bool Shared = Environment.GetEnvironmentVariable("LLM_STEP_THREAD") != "pinned";

    /// <summary>The dispatchers of a new engine's scheduler and worker on <paramref name="system"/>.</summary>
    public static (string Scheduler, string Worker) Dispatchers(ActorSystem system)
    {
        if (!Shared) return (SchedulerPinned, WorkerActor.Dispatcher);
        string id = "llm-engine-step-" + Guid.NewGuid().ToString("N")[..8];
        var config = ConfigurationFactory.ParseString($$"""
            id = "{{id}}"
            type = Dispatcher
            executor = fork-join-executor
            dedicated-thread-pool { thread-count = 1, threadtype = background }
            """).WithFallback(system.Settings.Config.GetConfig("akka.actor.default-dispatcher"));
        system.Dispatchers.RegisterConfigurator(id, new DispatcherConfigurator(config, system.Dispatchers.Prerequisites));
        return (id, id);
    }
}
