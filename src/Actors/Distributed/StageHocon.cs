using Akka.Configuration;
using LlmEngine.Actors.Cluster;
using LlmEngine.Actors.Engine;

namespace LlmEngine.Actors.Distributed;

/// <summary>
/// Akka settings of the head and the worker nodes of --distributed-executor-backend cluster: the
/// engine's (dispatchers, contracts' serializer) and the cluster's (<see cref="ClusterHocon"/>: a
/// silent node is unreachable within about 4 s), remoting on the given address with frames large
/// enough for a step's hidden states (tokens x hidden x 4 bytes: 2048 tokens of hidden 8192 are 64 MiB).
/// </summary>
public static class StageHocon
{
    public const string SystemName = "llm-engine";
    /// <summary>The role of the node that runs the engine (and pipeline stage 0).</summary>
    public const string HeadRole = "head";
    /// <summary>The role of a worker node (<c>llm-engine worker --join</c>), which gets one of the other stages.</summary>
    public const string WorkerRole = "worker";

    /// <summary>The head's settings: it listens on <paramref name="host"/>:<paramref name="port"/> and is its cluster's seed.</summary>
    public static Config Head(string host, int port) => Node(host, port, HeadRole, $"{host}:{port}");

    /// <summary>A worker node's settings: it joins the head at <paramref name="head"/> (host:port). It stops when
    /// <see cref="WorkerNode"/>'s caller says so (the worker command's SIGTERM), not by Akka's own SIGTERM hook:
    /// with both, a SIGTERM that came just as the head left was lost (two of four benchmark runs: the node
    /// joined again with a fresh system and the process ran on until a second SIGTERM).</summary>
    public static Config Worker(string host, int port, string head) =>
        ConfigurationFactory.ParseString("akka.coordinated-shutdown.run-by-clr-shutdown-hook = off").WithFallback(Node(host, port, WorkerRole, head));

    private static Config Node(string host, int port, string role, string seed) => ConfigurationFactory.ParseString($$"""
        akka.actor.provider = cluster
        akka.remote.dot-netty.tcp {
          hostname = "{{host}}"
          port = {{port}}
          maximum-frame-size = 128MiB
          send-buffer-size = 128MiB
          receive-buffer-size = 128MiB
        }
        akka.cluster {
          roles = ["{{role}}"]
          seed-nodes = ["akka.tcp://{{SystemName}}@{{seed}}"]
        }
        """).WithFallback(ClusterHocon.Config).WithFallback(EngineHocon.Config);
}
