namespace LlmEngine.Actors.Cluster;

/// <summary>The replica running a request left the cluster, became unreachable, or stopped
/// taking requests. Before the request's first token its caller routes it again.</summary>
internal sealed class ReplicaLostException(string node, string why) : Exception($"replica {node} was lost: {why}")
{
    public string Node { get; } = node;
}
