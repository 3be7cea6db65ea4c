using Akka.Actor;
using Akka.Remote.Hosting;
using Akka.Streams;
using Akka.Streams.Dsl;
using LlmEngine.Actors.Engine;
using LlmEngine.Actors.Remote;
using LlmEngine.Contracts;
using LlmEngine.Tests.EndToEnd;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace LlmEngine.Tests.Remote;

/// <summary>A generic host with <c>AddLlmEngine(..., akka => akka.WithRemoting(...))</c> serves
/// another ActorSystem through the gateway it starts.</summary>
public sealed class HostedGatewayTests
{
    [Fact]
    public async Task HostsGatewayStreamsTheInProcessGreedyTokensToAnotherSystem()
    {
        using var host = LlmEngineHost.Build(akka: (akka, _) => akka.WithRemoting("127.0.0.1", 0));
        await host.StartAsync();
        var engine = host.Services.GetRequiredService<ILlmEngine>();
        var local = await engine.GenerateAsync(new GenerationRequest("local", engine.Tokenizer!.Encode("Lily"), new() { Temperature = 0, MaxTokens = 30 })).LastAsync();
        using var caller = ActorSystem.Create("caller", RemoteSystems.Remoting());
        var materializer = caller.Materializer();

        var gateway = await caller.ActorSelection(RemoteSystems.GatewayPath(host.Services.GetRequiredService<ActorSystem>())).ResolveOne(TimeSpan.FromSeconds(10));
        var deltas = await gateway.GenerateAsync(new RemoteGenerate("story", "Lily", null, new RemoteSampling(MaxTokens: 30, Temperature: 0)), TimeSpan.FromSeconds(20));
        var received = await deltas.RunWith(Sink.Seq<RemoteDelta>(), materializer).WaitAsync(TimeSpan.FromSeconds(20));

        Assert.Equal(local.Outputs![0].TokenIds, received.SelectMany(d => d.TokenIds).ToArray());
        await caller.Terminate();
        await host.StopAsync();
    }
}
