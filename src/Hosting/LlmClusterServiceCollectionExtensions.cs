using Akka.Actor;
using Akka.Cluster.Hosting;
using Akka.Hosting;
using Akka.Remote.Hosting;
using LlmEngine.Actors.Cluster;
using LlmEngine.Actors.Engine;
using Microsoft.Extensions.DependencyInjection;

namespace LlmEngine.Hosting;

/// <summary>Where a node listens and whom it joins (<c>serve --cluster-port --join --routing</c>).</summary>
/// <param name="Host">The address other nodes reach this one at.</param>
/// <param name="Port">The cluster port (0: any free one; then it can only seed a cluster others cannot find).</param>
/// <param name="Join">host:port of a node already in the cluster; null to seed a new cluster.</param>
public sealed record ClusterNodeOptions(string Host, int Port, string? Join, RoutingMode Routing)
{
    /// <summary>The node's role in Akka.Cluster.</summary>
    public const string EngineRole = "engine";

    /// <summary>Akka addresses of the seed nodes: the one to join, or this node itself.</summary>
    public IReadOnlyList<string> SeedNodes => [$"akka.tcp://{LlmEngineServiceCollectionExtensions.ActorSystemName}@{Join ?? $"{Host}:{Port}"}"];

    /// <summary>Checks <see cref="Join"/> is host:port.</summary>
    public ClusterNodeOptions Validate()
    {
        if (Join is null) return this;
        int colon = Join.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(Join[(colon + 1)..], out int p) || p is < 1 or > 65535)
            throw new ArgumentException($"--join must be HOST:PORT, got '{Join}'", "join");
        return this;
    }
}

/// <summary>
/// Makes a host's engine one replica of an Akka.Cluster (docs/cluster.md):
/// <code>
///   services.AddLlmCluster(engineOptions, new ClusterNodeOptions("10.0.0.5", 4053, Join: "10.0.0.4:4053", RoutingMode.KvAware));
/// </code>
/// It is <c>AddLlmEngine</c> with remoting on the cluster port, Akka.Cluster (role
/// <see cref="ClusterNodeOptions.EngineRole"/>, the seeds, <see cref="ClusterHocon"/>) and
/// distributed pub-sub; the node's gateway serves its own engine to the other nodes, and the
/// <see cref="ILlmEngine"/> keyed <see cref="FrontDoor"/> is a <see cref="ClusterEngine"/> that
/// routes every request to a replica (what HTTP serves).
/// </summary>
public static class LlmClusterServiceCollectionExtensions
{
    /// <summary>The key of the engine a node's front doors (HTTP) serve when it is not the host's
    /// <see cref="ILlmEngine"/> itself: a cluster node's router, while its gateway serves its own engine.</summary>
    public const string FrontDoor = "front-door";

    public static LlmEngineBuilder AddLlmCluster(this IServiceCollection services, EngineOptions options, ClusterNodeOptions cluster)
    {
        cluster.Validate();
        var builder = services.AddLlmEngine(options, (akka, _) => akka
            .AddHocon(ClusterHocon.Config, HoconAddMode.Prepend)
            .WithRemoting(cluster.Host, cluster.Port)
            .WithClustering(new ClusterOptions { Roles = [ClusterNodeOptions.EngineRole], SeedNodes = [.. cluster.SeedNodes] })
            .WithDistributedPubSub(ClusterNodeOptions.EngineRole));
        services.AddKeyedSingleton<ILlmEngine>(FrontDoor, (sp, _) =>
            ClusterEngine.Start(sp.GetRequiredService<ActorSystem>(), sp.GetRequiredService<InferenceEngine>(), cluster.Routing));
        return builder;
    }
}
