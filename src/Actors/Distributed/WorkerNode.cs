using Akka.Actor;

namespace LlmEngine.Actors.Distributed;

/// <summary>
/// A worker node's life (<c>llm-engine worker --join</c>): an ActorSystem with a
/// <see cref="StageWorkerActor"/> that joins the head. When the cluster removes the node (its head
/// stopped, or downed it), the node joins again with a fresh ActorSystem and waits for the next head
/// at the same address, so a head may be restarted (or <c>bench sweep</c> start one engine after
/// another) without restarting its workers. It ends when stopped (leaving the cluster) or when it
/// cannot serve its stage (<see cref="StageWorkerActor.Left"/>: a failed load, a refused model copy),
/// which is for a supervisor to handle.
/// </summary>
public static class WorkerNode
{
    /// <returns>null once stopped by <paramref name="stop"/>; else why the node left the cluster by itself</returns>
    public static async Task<string?> RunAsync(string host, int port, string head, string? model, string device, Action<string> log, CancellationToken stop)
    {
        var stopped = Task.Delay(Timeout.Infinite, stop);
        while (true)
        {
            using var system = ActorSystem.Create(StageHocon.SystemName, StageHocon.Worker(host, port, head));
            system.ActorOf(StageWorkerActor.Props(model, device, log), StageWorkerActor.Name);
            log($"Worker node {((ExtendedActorSystem)system).Provider.DefaultAddress} joining {head} (device {device})");
            await Task.WhenAny(stopped, system.WhenTerminated);
            var shutdown = CoordinatedShutdown.Get(system);
            // SIGTERM reaches Akka's own exit hook too, which may stop the system first.
            if (stop.IsCancellationRequested || shutdown.ShutdownReason is CoordinatedShutdown.ClrExitReason)
            {
                await shutdown.Run(CoordinatedShutdown.ClrExitReason.Instance);
                return null;
            }
            if (shutdown.ShutdownReason is StageWorkerActor.Left left) return left.Why;
            log("this worker node is out of its head's cluster (the head stopped, or downed it); joining again");
        }
    }
}
