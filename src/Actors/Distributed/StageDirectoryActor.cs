using Akka.Actor;
using Akka.Cluster;
using LlmEngine.Contracts;

namespace LlmEngine.Actors.Distributed;

/// <summary>
/// The head's keeper of worker nodes (at /user/<see cref="Name"/>): each worker node that comes Up
/// (role <see cref="WorkerRole"/>) is given the lowest pipeline stage without a worker (nodes Up
/// at once in the order of their addresses, later ones as they come); a node that becomes
/// unreachable (the failure detector: about 4 s of silence) or leaves loses its stage at once, the
/// step waiting on it fails, and the head downs it so a new node can take its place. When a stage
/// is loaded again after a loss, <see cref="ClusterStages"/> says so (the engine forgets its cached
/// prefixes: the new stage's cache is empty).
/// </summary>
public sealed class StageDirectoryActor : ReceiveActor
{
    public const string Name = "llm-stage-directory";
    public const string WorkerRole = "worker";
    public const string HeadRole = "head";

    private readonly ClusterStages _stages;
    private readonly Func<int, StageAssignment> _assignment;
    private readonly Action<string> _log;
    private readonly Action _reloaded;
    private readonly List<Address> _idle = [];
    private readonly Dictionary<Address, int> _assigned = [];
    private readonly HashSet<int> _everLoaded = [];

    public static Props Props(ClusterStages stages, Func<int, StageAssignment> assignment, Action<string> log, Action reloaded) =>
        Akka.Actor.Props.Create(() => new StageDirectoryActor(stages, assignment, log, reloaded));

    public StageDirectoryActor(ClusterStages stages, Func<int, StageAssignment> assignment, Action<string> log, Action reloaded)
    {
        (_stages, _assignment, _log, _reloaded) = (stages, assignment, log, reloaded);
        Receive<ClusterEvent.MemberUp>(up =>
        {
            if (!up.Member.HasRole(WorkerRole) || _idle.Contains(up.Member.Address) || _assigned.ContainsKey(up.Member.Address)) return;
            _idle.Add(up.Member.Address);
            AssignIdle();
        });
        Receive<ClusterEvent.UnreachableMember>(unreachable =>
        {
            if (!unreachable.Member.HasRole(WorkerRole)) return;
            Lose(unreachable.Member.Address, "is unreachable");
            Akka.Cluster.Cluster.Get(Context.System).Down(unreachable.Member.Address);
        });
        Receive<ClusterEvent.MemberRemoved>(removed =>
        {
            if (removed.Member.HasRole(WorkerRole)) Lose(removed.Member.Address, "left the cluster");
        });
        Receive<StageReady>(ready =>
        {
            var node = Sender.Path.Address;
            if (!_assigned.TryGetValue(node, out int stage) || stage != ready.Stage) return;
            _stages.Ready(stage, Sender, node);
            _log($"worker {node} loaded {ready.Description}");
            if (!_everLoaded.Add(stage)) _reloaded();
        });
        Receive<StageLoadFailed>(failed =>
        {
            var node = Sender.Path.Address;
            _log($"error: worker {node} could not load pipeline stage {failed.Stage}: {failed.Error}");
            _assigned.Remove(node);
        });
    }

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
            _log($"assigning pipeline stage {stage} of {_stages.Count} to worker {node}");
            Context.ActorSelection(new RootActorPath(node) / "user" / StageWorkerActor.Name).Tell(_assignment(stage));
        }
    }

    private void Lose(Address node, string why)
    {
        _idle.Remove(node);
        if (!_assigned.Remove(node)) return;
        foreach (int stage in _stages.Lost(node, why)) _log($"error: pipeline stage {stage} of {_stages.Count} lost: worker {node} {why}");
        AssignIdle();
    }
}
