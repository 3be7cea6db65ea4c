using Akka.Actor;
using Akka.Cluster;
using Akka.Cluster.Tools.PublishSubscribe;
using LlmEngine.Contracts;

namespace LlmEngine.Actors.Cluster;

/// <summary>
/// Keeps a node's <see cref="ReplicaDirectory"/> current: replicas' reports from the pub-sub
/// topic, and Akka.Cluster's membership (failure detection and downing are the cluster's, not
/// ours). A member that becomes unreachable or is removed is lost at once (its streams end, its
/// queued requests go elsewhere); one that leaves gracefully only stops getting new requests
/// while it drains; a member that comes up or back is routed to from its next report.
/// </summary>
internal sealed class ClusterDirectoryActor : ReceiveActor
{
    public const string Name = "llm-cluster-directory";

    private readonly ReplicaDirectory _directory;
    private readonly string _self;

    public static Props Props(ReplicaDirectory directory) => Akka.Actor.Props.Create(() => new ClusterDirectoryActor(directory));

    public ClusterDirectoryActor(ReplicaDirectory directory)
    {
        _directory = directory;
        _self = Akka.Cluster.Cluster.Get(Context.System).SelfAddress.ToString();
        Receive<ReplicaReport>(report =>
        {
            if (!_directory.Apply(report))
                Context.ActorSelection($"{report.Node}/user/{ReplicaPublisherActor.Name}").Tell(new ReplicaSnapshotRequest(_self));
        });
        Receive<ClusterEvent.UnreachableMember>(e => _directory.Lost(e.Member.Address.ToString()));
        Receive<ClusterEvent.MemberRemoved>(e => _directory.Lost(e.Member.Address.ToString()));
        Receive<ClusterEvent.MemberLeft>(e => _directory.Leaving(e.Member.Address.ToString()));
        Receive<ClusterEvent.MemberExited>(e => _directory.Leaving(e.Member.Address.ToString()));
        Receive<ClusterEvent.ReachableMember>(e => _directory.Allow(e.Member.Address.ToString()));
        Receive<ClusterEvent.MemberUp>(e => _directory.Allow(e.Member.Address.ToString()));
        Receive<SubscribeAck>(_ => { });
    }

    protected override void PreStart()
    {
        Akka.Cluster.Cluster.Get(Context.System).Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsEvents,
            typeof(ClusterEvent.IMemberEvent), typeof(ClusterEvent.IReachabilityEvent));
        DistributedPubSub.Get(Context.System).Mediator.Tell(new Subscribe(ClusterTopics.Replicas, Self));
    }

    protected override void PostStop() => Akka.Cluster.Cluster.Get(Context.System).Unsubscribe(Self);
}
