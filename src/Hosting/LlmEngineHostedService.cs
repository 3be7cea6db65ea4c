using Akka;
using Akka.Actor;
using Akka.Hosting;
using LlmEngine.Actors;
using LlmEngine.Actors.Engine;
using LlmEngine.Actors.Remote;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace LlmEngine.Hosting;

/// <summary>
/// The engine's part of the host's lifetime. Start: load the model (so the host is ready when it
/// says so), start the <see cref="EngineGatewayActor"/> on the host's ActorSystem and register it
/// and the engine's scheduler in Akka.Hosting's <see cref="ActorRegistry"/> (keys
/// <see cref="EngineGatewayActor"/> and <see cref="SchedulerActor"/>). Stop: the graceful shutdown
/// of <see cref="InferenceEngine.StopAsync"/> with <see cref="EngineOptions.ShutdownGraceSeconds"/>,
/// begun in <see cref="StoppingAsync"/>: the host calls every service's StoppingAsync before any
/// StopAsync, so the web server still listens while the engine drains. A request that comes meanwhile,
/// on a new connection too, gets 503, and each stream cut at the end of the grace period still sends its
/// last chunk (finish_reason "abort") and <c>[DONE]</c> before the server closes its connections.
/// Registered after Akka.Hosting's own service, so it stops before the ActorSystem does.
/// When the engine dies (its worker broke) the host stops with exit code 1, so that a supervisor
/// restarts the process instead of it limping on.
/// </summary>
internal sealed class LlmEngineHostedService(IServiceProvider services, EngineOptions options) : IHostedLifecycleService
{
    private readonly object _lock = new();
    private ILlmEngine? _engine;
    private Task? _drain;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _engine = services.GetRequiredService<ILlmEngine>();
        var system = services.GetRequiredService<ActorSystem>();
        var registry = services.GetRequiredService<ActorRegistry>();
        if (_engine is InferenceEngine engine)
        {
            registry.Register<SchedulerActor>(engine.Scheduler);
            // Whatever starts the ActorSystem's coordinated shutdown (the host stopping, a signal), its
            // first phase waits for the drain: the engine's actors must outlive the requests they serve.
            CoordinatedShutdown.Get(system).AddTask(CoordinatedShutdown.PhaseBeforeServiceUnbind, "drain-llm-engine", async () =>
            {
                await Drain();
                return Done.Instance;
            });
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

    public Task StoppingAsync(CancellationToken cancellationToken) => Drain();

    public Task StopAsync(CancellationToken cancellationToken) => Drain();

    // An engine from UseEngine(...) stops itself (or with the container).
    private Task Drain()
    {
        lock (_lock)
            return _drain ??= _engine is InferenceEngine engine ? engine.StopAsync(TimeSpan.FromSeconds(options.ShutdownGraceSeconds)) : Task.CompletedTask;
    }

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
