using LlmEngine.Actors.Engine;
using LlmEngine.Tests.Remote;

namespace LlmEngine.Tests.Cluster;

/// <summary>Three stories260K replicas joined over loopback, plus a lone engine to compare with.</summary>
public sealed class ThreeNodes : IAsyncLifetime
{
    public ClusterNode[] Nodes { get; private set; } = [];
    public InferenceEngine Single { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Single = InferenceEngine.Start(RemoteSystems.Stories260K());
        Nodes = await ClusterNode.StartCluster(3);
    }

    /// <summary>Greedy tokens of the lone engine.</summary>
    public Task<int[]> Reference(IReadOnlyList<int> prompt, int maxTokens) => ClusterNode.Greedy(Single, "reference", prompt, maxTokens);

    public async Task DisposeAsync()
    {
        foreach (var node in Nodes.Reverse()) await node.DisposeAsync();
        await Single.DisposeAsync();
    }
}
