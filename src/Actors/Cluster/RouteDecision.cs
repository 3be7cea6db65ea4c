namespace LlmEngine.Actors.Cluster;

/// <summary>Where one request goes: the replica, the prompt blocks it holds, and how long the
/// decision took. End it with <see cref="ReplicaDirectory.Ended"/>.</summary>
public sealed record RouteDecision(Replica Replica, int MatchedBlocks, int PromptBlocks, TimeSpan Took)
{
    public string Node => Replica.Node;
}
