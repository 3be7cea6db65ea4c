using Akka.Actor;
using Akka.Cluster;
using Akka.Cluster.Tools.PublishSubscribe;
using LlmEngine.Actors.Engine;
using LlmEngine.Contracts;

namespace LlmEngine.Actors.Cluster;

/// <summary>
/// An engine node's voice in the cluster: every <see cref="Interval"/> it drains the engine's
/// KV events and publishes them with the engine's load as one <see cref="ReplicaReport"/>
/// (so the events of all the steps in between travel batched), and at least every
/// <see cref="Heartbeat"/> even when nothing changed. A member joining, or a router asking
/// (<see cref="ReplicaSnapshotRequest"/>), makes the next report a full one.
/// Started as <c>/user/</c><see cref="Name"/>.
/// </summary>
internal sealed class ReplicaPublisherActor : ReceiveActor, IWithTimers
{
    public const string Name = "llm-replica-publisher";
    public static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(20);
    public static readonly TimeSpan Heartbeat = TimeSpan.FromSeconds(1);

    private sealed record Tick;

    /// <summary>Where this node's OpenAI API listens, once its HTTP server is bound: reports carry it
    /// from then on, so that nodes serving other models can forward this one's requests here.</summary>
    public sealed record HttpAddress(string Url);

    private readonly InferenceEngine _engine;
    private readonly string _node;
    private readonly IActorRef _mediator;
    private long _sequence;
    private bool _full = true;
    private DateTime _lastSent = DateTime.MinValue;
    private (int, int, double) _lastLoad;
    private string? _httpUrl;

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(InferenceEngine engine) => Akka.Actor.Props.Create(() => new ReplicaPublisherActor(engine));

    public ReplicaPublisherActor(InferenceEngine engine)
    {
        _engine = engine;
        _node = Akka.Cluster.Cluster.Get(Context.System).SelfAddress.ToString();
        _mediator = DistributedPubSub.Get(Context.System).Mediator;
        engine.KvEvents.Start();
        Receive<Tick>(_ => Publish());
        Receive<ClusterEvent.MemberUp>(_ => _full = true);
        Receive<ReplicaSnapshotRequest>(_ => _full = true);
        Receive<HttpAddress>(a =>
        {
            _httpUrl = a.Url;
            _full = true;
        });
    }

    protected override void PreStart()
    {
        Akka.Cluster.Cluster.Get(Context.System).Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsEvents, typeof(ClusterEvent.MemberUp));
        Timers.StartPeriodicTimer("tick", new Tick(), Interval);
    }

    protected override void PostStop() => Akka.Cluster.Cluster.Get(Context.System).Unsubscribe(Self);

    private void Publish()
    {
        var stats = _engine.Statistics;
        var load = (stats.Running, Math.Max(0, _engine.InFlight - stats.Running), stats.KvCacheUsage);
        bool full = _full;
        var (stored, evicted) = full ? (_engine.KvEvents.Snapshot(), Array.Empty<ulong>()) : _engine.KvEvents.Drain();
        var now = DateTime.UtcNow;
        if (!full && stored.Length == 0 && evicted.Length == 0 && load == _lastLoad && now - _lastSent < Heartbeat) return;
        _full = false;
        _lastSent = now;
        _lastLoad = load;
        var o = _engine.Options;
        _mediator.Tell(new Publish(ClusterTopics.Replicas, new ReplicaReport(_node, _engine.ModelName, _engine.MaxModelLength, o.BlockSize,
            o.MaxNumSeqs, load.Item1, load.Item2, load.Item3, ++_sequence, full, stored, evicted, _httpUrl)));
    }
}
