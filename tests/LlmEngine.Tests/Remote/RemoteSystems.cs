using Akka.Actor;
using Akka.Configuration;
using Akka.Streams;
using LlmEngine.Actors.Engine;
using LlmEngine.Actors.Remote;
using LlmEngine.Contracts;
using LlmEngine.Tests.Loading;

namespace LlmEngine.Tests.Remote;

/// <summary>Two ActorSystems on loopback TCP (free ports): "llm-engine" runs stories260K behind an
/// <see cref="EngineGatewayActor"/>; "caller" reaches it only through its remote address.</summary>
public sealed class RemoteSystems : IAsyncLifetime
{
    public static Config Remoting(string extra = "") => ConfigurationFactory.ParseString($$"""
        akka.actor.provider = remote
        akka.remote.dot-netty.tcp { hostname = "127.0.0.1", port = 0 }
        akka.loglevel = ERROR
        {{extra}}
        """).WithFallback(RemoteContracts.Config);

    public static EngineOptions Stories260K() => new() { Model = SharedModels.Stories260K, NumBlocks = 128, BlockSize = 16 };

    public ActorSystem Server { get; private set; } = null!;
    public InferenceEngine Engine { get; private set; } = null!;
    public ActorSystem Caller { get; private set; } = null!;
    public IMaterializer Materializer { get; private set; } = null!;
    public IActorRef Gateway { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Server = ActorSystem.Create("llm-engine", Remoting().WithFallback(EngineHocon.Config));
        Engine = InferenceEngine.Start(Stories260K(), Server);
        Server.ActorOf(EngineGatewayActor.Props(Engine), EngineGatewayActor.Name);
        Caller = ActorSystem.Create("caller", Remoting());
        // Loads Akka.Streams' settings (the stream-ref serializer) before any reply arrives.
        Materializer = Caller.Materializer();
        Gateway = await Caller.ActorSelection(GatewayPath(Server)).ResolveOne(TimeSpan.FromSeconds(10));
    }

    public static string GatewayPath(ActorSystem server) =>
        $"{((ExtendedActorSystem)server).Provider.DefaultAddress}/user/{EngineGatewayActor.Name}";

    public async Task DisposeAsync()
    {
        await Caller.Terminate();
        await Engine.DisposeAsync();
        await Server.Terminate();
    }
}
