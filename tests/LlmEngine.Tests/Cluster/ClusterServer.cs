using LlmEngine.Actors.Cluster;
using LlmEngine.Actors.Engine;
using LlmEngine.Host.Api;
using LlmEngine.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace LlmEngine.Tests.Cluster;

/// <summary>A cluster node with its OpenAI server on a free loopback port, in this process: an
/// engine replica (<c>AddLlmCluster</c>) or a router that holds no model (<c>AddLlmClusterRouter</c>).</summary>
public sealed class ClusterServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private ClusterServer(WebApplication app, int clusterPort)
    {
        _app = app;
        ClusterPort = clusterPort;
        FrontDoor = (ClusterEngine)OpenAiServer.EngineOf(app.Services);
        Engine = app.Services.GetService<InferenceEngine>();
        Http = new HttpClient { BaseAddress = OpenAiServer.BoundAddress(app), Timeout = TimeSpan.FromMinutes(2) };
    }

    public int ClusterPort { get; }
    public ClusterEngine FrontDoor { get; }
    /// <summary>The node's own engine; null on a router.</summary>
    public InferenceEngine? Engine { get; }
    public HttpClient Http { get; }
    public string Address => FrontDoor.Self;

    public static Task<ClusterServer> Replica(EngineOptions options, int? join) =>
        Start(join, (services, node) => services.AddLlmCluster(options, node));

    public static Task<ClusterServer> Router(EngineOptions options, int? join) =>
        Start(join, (services, node) => services.AddLlmClusterRouter(options, node));

    private static async Task<ClusterServer> Start(int? join, Action<IServiceCollection, ClusterNodeOptions> add)
    {
        int port = LoopbackPort.Free();
        var node = new ClusterNodeOptions("127.0.0.1", port, join is { } j ? $"127.0.0.1:{j}" : null, RoutingMode.KvAware);
        var app = OpenAiServer.Build(new ServerOptions { Host = "127.0.0.1", Port = 0 }, b =>
        {
            b.Logging.ClearProviders();
            add(b.Services, node);
        });
        await app.StartAsync();
        return new ClusterServer(app, port);
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await _app.StopAsync(TimeSpan.FromSeconds(10));
        await _app.DisposeAsync();
    }
}
