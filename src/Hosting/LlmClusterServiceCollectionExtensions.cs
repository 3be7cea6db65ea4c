using Akka.Actor;
using Akka.Cluster.Hosting;
using Akka.Hosting;
using Akka.Remote.Hosting;
using LlmEngine.Actors.Cluster;
using LlmEngine.Actors.Engine;
using LlmEngine.Kernels.Models;
using Microsoft.Extensions.DependencyInjection;

namespace LlmEngine.Hosting;

/// <summary>Where a node listens and whom it joins (<c>serve --cluster-port --join --routing</c>).</summary>
/// <param name="Host">The address other nodes reach this one at.</param>
/// <param name="Port">The cluster port (0: any free one; then it can only seed a cluster others cannot find).</param>
/// <param name="Join">host:port of a node already in the cluster; null to seed a new cluster.</param>
/// <param name="PublicAddress">host:port the other nodes reach this one's cluster port at, when that is
/// not <see cref="Host"/>:<see cref="Port"/> (NAT, a container's port mapping, a proxy): Akka.Remote's
/// public-hostname and public-port, which are the node's identity in the cluster. Null: the bound address.</param>
public sealed record ClusterNodeOptions(string Host, int Port, string? Join, RoutingMode Routing, string? PublicAddress = null)
{
    /// <summary>The Akka.Cluster role of a node that runs an engine replica.</summary>
    public const string EngineRole = "engine";

    /// <summary>The role of a node that only routes (<c>serve --no-engine</c>): it holds no model.</summary>
    public const string RouterRole = "router";

    /// <summary>Akka addresses of the seed nodes: the one to join, or this node itself.</summary>
    public IReadOnlyList<string> SeedNodes => [$"akka.tcp://{LlmEngineServiceCollectionExtensions.ActorSystemName}@{Join ?? PublicAddress ?? $"{Host}:{Port}"}"];

    /// <summary>Checks <see cref="Join"/> and <see cref="PublicAddress"/> are host:port.</summary>
    public ClusterNodeOptions Validate()
    {
        if (Join is not null) HostAndPort(Join, "join");
        if (PublicAddress is not null) HostAndPort(PublicAddress, "cluster-public-address");
        return this;
    }

    /// <summary>The remoting settings: bind to Host:Port, known to the others as PublicAddress.</summary>
    public RemoteOptions Remoting()
    {
        var remoting = new RemoteOptions { HostName = Host, Port = Port };
        if (PublicAddress is not null) (remoting.PublicHostName, remoting.PublicPort) = HostAndPort(PublicAddress, "cluster-public-address");
        return remoting;
    }

    private static (string Host, int Port) HostAndPort(string value, string option)
    {
        int colon = value.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(value[(colon + 1)..], out int p) || p is < 1 or > 65535)
            throw new ArgumentException($"--{option} must be HOST:PORT, got '{value}'", option);
        return (value[..colon], p);
    }
}

/// <summary>
/// Makes a host's engine one replica of an Akka.Cluster (docs/cluster.md):
/// <code>
///   services.AddLlmCluster(engineOptions, new ClusterNodeOptions("10.0.0.5", 4053, Join: "10.0.0.4:4053", RoutingMode.KvAware));
///   // or a node that only routes, with the model's tokenizer and config but no weights:
///   services.AddLlmClusterRouter(engineOptions, new ClusterNodeOptions("10.0.0.3", 4053, Join: "10.0.0.4:4053", RoutingMode.KvAware));
/// </code>
/// <c>AddLlmCluster</c> is <c>AddLlmEngine</c> with remoting on the cluster port, Akka.Cluster (role
/// <see cref="ClusterNodeOptions.EngineRole"/>, the seeds, <see cref="ClusterHocon"/>) and
/// distributed pub-sub; the node's gateway serves its own engine to the other nodes, and the
/// <see cref="ILlmEngine"/> keyed <see cref="FrontDoor"/> is a <see cref="ClusterEngine"/> that
/// routes every request to a replica (what HTTP serves). <c>AddLlmClusterRouter</c> starts the same cluster member (role
/// <see cref="ClusterNodeOptions.RouterRole"/>) with no engine: its <see cref="ILlmEngine"/> is the
/// router's front door over <see cref="ModelFactory.Describe"/>.
/// </summary>
public static class LlmClusterServiceCollectionExtensions
{
    /// <summary>The key of the engine a node's front doors (HTTP) serve when it is not the host's
    /// <see cref="ILlmEngine"/> itself: a cluster node's router, while its gateway serves its own engine.</summary>
    public const string FrontDoor = "front-door";

    public static LlmEngineBuilder AddLlmCluster(this IServiceCollection services, EngineOptions options, ClusterNodeOptions cluster)
    {
        cluster.Validate();
        var builder = services.AddLlmEngine(options, (akka, _) => Member(akka, cluster, ClusterNodeOptions.EngineRole));
        services.AddKeyedSingleton<ILlmEngine>(FrontDoor, (sp, _) =>
            ClusterEngine.Start(sp.GetRequiredService<ActorSystem>(), sp.GetRequiredService<InferenceEngine>(), cluster.Routing));
        return builder;
    }

    public static IServiceCollection AddLlmClusterRouter(this IServiceCollection services, EngineOptions options, ClusterNodeOptions cluster)
    {
        cluster.Validate();
        options.Validate();
        services.AddAkka(LlmEngineServiceCollectionExtensions.ActorSystemName, (akka, _) => Member(akka, cluster, ClusterNodeOptions.RouterRole));
        services.AddSingleton<ILlmEngine>(sp => ClusterEngine.StartRouter(sp.GetRequiredService<ActorSystem>(),
            ModelFactory.Describe(options.Model, options.MaxModelLength), options, cluster.Routing));
        return services;
    }

    // Pub-sub spans every role: routers read the engines' reports too.
    private static AkkaConfigurationBuilder Member(AkkaConfigurationBuilder akka, ClusterNodeOptions cluster, string role) => akka
        .AddHocon(ClusterHocon.Config, HoconAddMode.Prepend)
        .WithRemoting(cluster.Remoting())
        .WithClustering(new ClusterOptions { Roles = [role], SeedNodes = [.. cluster.SeedNodes] })
        .WithDistributedPubSub("");
}
