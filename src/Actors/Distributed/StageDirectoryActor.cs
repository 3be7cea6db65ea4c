using Akka.Actor;
using Akka.Cluster;
using LlmEngine.Contracts;

namespace LlmEngine.Actors.Distributed;

/// <summary>
/// The head's keeper of worker nodes (at /user/<see cref="Name"/>): each worker node that comes Up
/// (role <see cref="StageHocon.WorkerRole"/>) is given the lowest pipeline stage (or, with
/// --tensor-parallel-across-nodes, the lowest stage's lowest tensor-parallel rank) without a worker (nodes Up
/// at once in the order of their addresses, later ones as they come); a node that becomes
/// unreachable (the failure detector: about 4 s of silence), leaves, or does not answer a step in
/// time loses its stage at once, the step waiting on it fails, and the head downs it so a new node
/// can take its place. A worker whose model copy's fingerprint differs from the head's is refused
/// (it leaves the cluster), as is one whose load failed (it leaves by itself).
/// </summary>
internal sealed class StageDirectoryActor : ReceiveActor
{
    public const string Name = "llm-stage-directory";

    /// <summary><see cref="ClusterStages.Unresponsive"/>, handed to this actor.</summary>
    public sealed record Unresponsive(Address Node, IReadOnlyList<int> Stages, string Why);

    private readonly ClusterStages _stages;
    private readonly Func<int, StageAssignment> _assignment;
    private readonly string _fingerprint;
    private readonly Action<string> _log;
    private readonly List<Address> _idle = [];
    private readonly Dictionary<Address, int> _assigned = [];

    /// <param name="fingerprint">the head's model copy's (<c>ModelFingerprint</c>): every worker's must equal it</param>
    public static Props Props(ClusterStages stages, Func<int, StageAssignment> assignment, string fingerprint, Action<string> log) =>
        Akka.Actor.Props.Create(() => new StageDirectoryActor(stages, assignment, fingerprint, log));

    public StageDirectoryActor(ClusterStages stages, Func<int, StageAssignment> assignment, string fingerprint, Action<string> log)
    {
        (_stages, _assignment, _fingerprint, _log) = (stages, assignment, fingerprint, log);
        Receive<ClusterEvent.MemberUp>(up =>
        {
            var node = up.Member.Address;
            if (!up.Member.HasRole(StageHocon.WorkerRole) || _idle.Contains(node) || _assigned.ContainsKey(node)) return;
            // After a restart of this actor, a node may hold its stage already.
            if (_stages.StageOf(node) is { } held) _assigned[node] = held;
            else _idle.Add(node);
            AssignIdle();
        });
        Receive<ClusterEvent.UnreachableMember>(unreachable =>
        {
            if (!unreachable.Member.HasRole(StageHocon.WorkerRole)) return;
            Lose(unreachable.Member.Address, "is unreachable");
            Akka.Cluster.Cluster.Get(Context.System).Down(unreachable.Member.Address);
        });
        Receive<ClusterEvent.MemberRemoved>(removed =>
        {
            if (removed.Member.HasRole(StageHocon.WorkerRole)) Lose(removed.Member.Address, "left the cluster");
        });
        Receive<Unresponsive>(silent =>
        {
            _idle.Remove(silent.Node);
            _assigned.Remove(silent.Node);
            foreach (int part in silent.Stages) _log($"error: {_stages.Describe(part)} lost: worker {silent.Node} {silent.Why}");
            Akka.Cluster.Cluster.Get(Context.System).Down(silent.Node);
            AssignIdle();
        });
        Receive<StageReady>(ready =>
        {
            var node = Sender.Path.Address;
            if (!_assigned.TryGetValue(node, out int stage) || _assignment(stage).Stage != ready.Stage) return;
            if (ready.Fingerprint != _fingerprint)
            {
                Refuse(node, stage, $"its model copy differs from the head's (fingerprint {ready.Fingerprint}, the head's {_fingerprint}): " +
                    "give it the head's model files with --model");
                return;
            }
            _stages.Ready(stage, Sender, node, ready.Endpoint);
            _log($"worker {node} loaded {ready.Description}");
        });
        Receive<StageLoadFailed>(failed =>
        {
            var node = Sender.Path.Address;
            string differs = failed.Fingerprint is { } f && f != _fingerprint ? $" (its model copy differs from the head's: fingerprint {f}, the head's {_fingerprint})" : "";
            _log($"error: worker {node} could not load pipeline stage {failed.Stage}: {failed.Error}{differs}; it leaves the cluster");
            if (_assigned.Remove(node)) AssignIdle();
        });
    }

    // No children; stated because every actor says how it supervises. Its own state lives in the
    // cluster's membership and in ClusterStages, so a restart (the guardian's default) rebuilds it
    // from the member events replayed on subscription.
    protected override SupervisorStrategy SupervisorStrategy() => new OneForOneStrategy(_ => Directive.Stop);

    protected override void PreStart() =>
        Akka.Cluster.Cluster.Get(Context.System).Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsEvents,
            typeof(ClusterEvent.MemberUp), typeof(ClusterEvent.UnreachableMember), typeof(ClusterEvent.MemberRemoved));

    protected override void PostStop() => Akka.Cluster.Cluster.Get(Context.System).Unsubscribe(Self);

    private void AssignIdle()
    {
        var free = Enumerable.Range(1, _stages.Count - 1).Where(s => !_assigned.ContainsValue(s)).ToList();
        foreach (int stage in free)
        {
            if (_idle.Count == 0) return;
            var node = _idle.OrderBy(a => a.ToString(), StringComparer.Ordinal).First();
            _idle.Remove(node);
            _assigned[node] = stage;
            _log($"assigning {_stages.Describe(stage)} to worker {node}");
            Context.ActorSelection(new RootActorPath(node) / "user" / StageWorkerActor.Name).Tell(_assignment(stage));
        }
    }

    private void Refuse(Address node, int stage, string why)
    {
        _log($"error: refusing worker {node} for {_stages.Describe(stage)}: {why}");
        Sender.Tell(new StageRefused($"the head refused this worker: {why}"));
        _assigned.Remove(node);
        AssignIdle();
    }

    private void Lose(Address node, string why)
    {
        _idle.Remove(node);
        if (!_assigned.Remove(node)) return;
        foreach (int part in _stages.Lost(node, why)) _log($"error: {_stages.Describe(part)} lost: worker {node} {why}");
        AssignIdle();
    }
}
