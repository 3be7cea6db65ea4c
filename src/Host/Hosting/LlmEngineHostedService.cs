using Akka.Actor;
using Akka.Hosting;
using LlmEngine.Actors;
using LlmEngine.Actors.Engine;
using LlmEngine.Actors.Remote;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace LlmEngine.Host.Hosting;

/// <summary>
/// The engine's part of the host's lifetime. Start: load the model (so the host is ready when it
/// says so), start the <see cref="EngineGatewayActor"/> on the host's ActorSystem and register it
/// and the engine's scheduler in Akka.Hosting's <see cref="ActorRegistry"/> (keys
/// <see cref="EngineGatewayActor"/> and <see cref="SchedulerActor"/>). Stop: the graceful shutdown
/// of <see cref="InferenceEngine.StopAsync"/> with <see cref="EngineOptions.ShutdownGraceSeconds"/>.
/// Registered after Akka.Hosting's own service, so it stops before the ActorSystem does.
/// When the engine dies (its worker broke) the host stops with exit code 1, so that a supervisor
/// restarts the process instead of it limping on.
/// </summary>
internal sealed class LlmEngineHostedService(IServiceProvider services, EngineOptions options) : IHostedService
{
    private ILlmEngine? _engine;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _engine = services.GetRequiredService<ILlmEngine>();
        var system = services.GetRequiredService<ActorSystem>();
        var registry = services.GetRequiredService<ActorRegistry>();
        if (_engine is InferenceEngine engine)
        {
            registry.Register<SchedulerActor>(engine.Scheduler);
            var lifetime = services.GetRequiredService<IHostApplicationLifetime>();
            engine.Died.Register(() =>
            {
                Environment.ExitCode = 1;
                lifetime.StopApplication();
            });
        }
        registry.Register<EngineGatewayActor>(system.ActorOf(EngineGatewayActor.Props(_engine), EngineGatewayActor.Name));
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        // An engine from UseEngine(...) stops itself (or with the container).
        return _engine is InferenceEngine engine ? engine.StopAsync(TimeSpan.FromSeconds(options.ShutdownGraceSeconds)) : Task.CompletedTask;
    }
}
