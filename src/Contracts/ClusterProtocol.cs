using MessagePack;

namespace LlmEngine.Contracts;

// What engine replicas of one Akka.Cluster tell the routers (docs/cluster.md):
//
//   engine node                                      every node (DistributedPubSub topic Topic)
//     ReplicaPublisherActor --- ReplicaReport ------>  ClusterDirectoryActor: load + block index
//     (each publish interval: the KV events since     |
//      the last report, and the current load)         | a report out of sequence (a node it has
//                          <--- ReplicaSnapshotRequest  not seen whole yet, a lost report)
//     next report is Full: every cached block hash
//
// The router then sends RemoteGenerate to the chosen node's gateway (RemoteProtocol.cs).

/// <summary>The pub-sub topic of <see cref="ReplicaReport"/>s.</summary>
public static class ClusterTopics
{
    public const string Replicas = "llm-engine-replicas";
}

/// <summary>
/// One engine replica's state since its previous report: the prefix-cache blocks it stored and
/// evicted (chained block hashes, <c>BlockHash</c>: the same for the same tokens on every node)
/// and its load. <paramref name="Sequence"/> counts the node's reports from 1, so a receiver sees a
/// gap. A <paramref name="Full"/> report lists every block cached now in <paramref name="Stored"/>
/// and replaces what the receiver knew. <paramref name="HttpUrl"/> is the node's OpenAI API (null
/// until its server listens): a node that does not serve a request's model forwards it there.
/// </summary>
[MessagePackObject]
public sealed record ReplicaReport(
    [property: Key(0)] string Node,
    [property: Key(1)] string Model,
    [property: Key(2)] int MaxModelLength,
    [property: Key(3)] int BlockSize,
    [property: Key(4)] int MaxNumSeqs,
    [property: Key(5)] int Running,
    [property: Key(6)] int Waiting,
    [property: Key(7)] double KvUsage,
    [property: Key(8)] long Sequence,
    [property: Key(9)] bool Full,
    [property: Key(10)] ulong[] Stored,
    [property: Key(11)] ulong[] Evicted,
    [property: Key(12)] string? HttpUrl = null) : IRemoteContract;

/// <summary>Asks an engine node to make its next <see cref="ReplicaReport"/> a full one.</summary>
[MessagePackObject]
public sealed record ReplicaSnapshotRequest([property: Key(0)] string Requester) : IRemoteContract;
