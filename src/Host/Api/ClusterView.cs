using LlmEngine.Actors.Cluster;

namespace LlmEngine.Host.Api;

/// <summary>GET /cluster on a cluster node: Akka.Cluster's members, the replicas this node routes
/// to (their last reported load and cached blocks), and its routing counters.</summary>
internal sealed record ClusterView(
    string Self,
    string Routing,
    IReadOnlyList<ClusterMemberView> Members,
    IReadOnlyList<ReplicaSummary> Replicas,
    IReadOnlyDictionary<string, long> RequestsByTarget,
    long PrefixHitBlocks,
    double MeanDecisionMicroseconds)
{
    public static ClusterView Of(ClusterEngine cluster)
    {
        var s = cluster.Directory.Statistics;
        return new ClusterView(cluster.Self, cluster.Directory.Policy.Mode.Name(),
            [.. cluster.Members().Select(m => new ClusterMemberView(m.Member.Address.ToString(), m.Member.Status.ToString(), [.. m.Member.Roles], m.Reachable))],
            cluster.Directory.Replicas(), s.RequestsByTarget, s.PrefixHitBlocks,
            s.Decisions == 0 ? 0 : s.DecisionSeconds / s.Decisions * 1e6);
    }
}

/// <summary>One Akka.Cluster member: address, status (Up, Leaving, ...), roles, and whether this
/// node's failure detector hears it (false between a crash or partition and the member's downing).</summary>
internal sealed record ClusterMemberView(string Address, string Status, IReadOnlyList<string> Roles, bool Reachable);
