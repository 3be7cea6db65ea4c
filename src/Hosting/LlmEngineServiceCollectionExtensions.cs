using Akka.Actor;
using Akka.Hosting;
using LlmEngine.Actors.Engine;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace LlmEngine.Hosting;

/// <summary>
/// Adds the engine to a generic host (docs/akka.md):
/// <code>
///   var builder = Host.CreateApplicationBuilder(args);
///   builder.AddLlmEngine();                                  // options from section "Engine"
///   // or services.AddLlmEngine(configuration.GetSection("Engine"), (akka, sp) => akka.WithRemoting("0.0.0.0", 4053));
///   using var host = builder.Build();
///   await host.RunAsync();                                   // ILlmEngine, InferenceEngine and IRequiredActor&lt;EngineGatewayActor&gt; resolve
/// </code>
/// It binds <see cref="EngineOptions"/> (also as <see cref="IOptions{EngineOptions}"/>), starts the
/// host's ActorSystem through Akka.Hosting's <c>AddAkka</c> with the engine's HOCON (its pinned
/// dispatchers) plus whatever <c>akka</c> adds (remoting, logging...), starts
/// <see cref="InferenceEngine"/> on that system, and a hosted service (<see cref="LlmEngineHostedService"/>)
/// that starts the gateway actor and gives the engine's graceful shutdown. <see cref="ILlmEngine"/>
/// resolves to that engine. Call it once, and instead of <c>AddAkka</c>.
/// <see cref="LlmEngineBuilder.UseEngine(ILlmEngine)"/> replaces the engine (tests, embedding).
/// </summary>
public static class LlmEngineServiceCollectionExtensions
{
    /// <summary>The name of the ActorSystem that <c>AddLlmEngine</c> starts (remote callers put it in the address).</summary>
    public const string ActorSystemName = "llm-engine";

    public static LlmEngineBuilder AddLlmEngine(this IServiceCollection services, IConfiguration section, Action<AkkaConfigurationBuilder, IServiceProvider>? akka = null)
    {
        services.AddOptions<EngineOptions>().Bind(section);
        return AddCore(services, akka);
    }

    public static LlmEngineBuilder AddLlmEngine(this IServiceCollection services, Action<EngineOptions> configure, Action<AkkaConfigurationBuilder, IServiceProvider>? akka = null)
    {
        services.AddOptions<EngineOptions>().Configure(configure);
        return AddCore(services, akka);
    }

    /// <summary>The engine with these options (validated now).</summary>
    public static LlmEngineBuilder AddLlmEngine(this IServiceCollection services, EngineOptions options, Action<AkkaConfigurationBuilder, IServiceProvider>? akka = null)
    {
        services.AddSingleton(Options.Create(options.Validate()));
        return AddCore(services, akka);
    }

    /// <summary>The engine with options from the host's configuration section "Engine".</summary>
    public static LlmEngineBuilder AddLlmEngine(this IHostApplicationBuilder builder, Action<AkkaConfigurationBuilder, IServiceProvider>? akka = null) =>
        builder.Services.AddLlmEngine(builder.Configuration.GetSection("Engine"), akka);

    private static LlmEngineBuilder AddCore(IServiceCollection services, Action<AkkaConfigurationBuilder, IServiceProvider>? akka)
    {
        if (services.Any(d => d.ServiceType == typeof(AkkaConfigurationBuilder)))
            throw new InvalidOperationException("AddLlmEngine starts the host's ActorSystem itself: call it once, instead of AddAkka, "
                + "and give your Akka settings through its akka argument.");
        services.TryAddSingleton(sp => sp.GetRequiredService<IOptions<EngineOptions>>().Value);
        services.AddAkka(ActorSystemName, (builder, sp) =>
        {
            // Appended: the engine's dispatchers fill in; the application's settings win.
            builder.AddHocon(EngineHocon.Config, HoconAddMode.Append);
            // The first shutdown phase holds the engine's drain (LlmEngineHostedService): give it the grace period and some.
            var drain = (int)Math.Ceiling((sp.GetRequiredService<EngineOptions>().ShutdownGraceSeconds + 5) * 1000);
            builder.AddHocon($"akka.coordinated-shutdown.phases.before-service-unbind.timeout = {drain}ms", HoconAddMode.Append);
            akka?.Invoke(builder, sp);
        });
        services.TryAddSingleton(StartEngine);
        services.TryAddSingleton<ILlmEngine>(sp => sp.GetRequiredService<InferenceEngine>());
        // After Akka.Hosting's service: hosted services stop in reverse order, so the engine
        // drains before the ActorSystem terminates.
        services.AddHostedService<LlmEngineHostedService>();
        services.AddOptions<HostOptions>().PostConfigure<IOptions<EngineOptions>>((host, engine) =>
        {
            var needed = TimeSpan.FromSeconds(engine.Value.ShutdownGraceSeconds + 5);
            if (host.ShutdownTimeout < needed) host.ShutdownTimeout = needed;
        });
        return new LlmEngineBuilder(services);
    }

    private static InferenceEngine StartEngine(IServiceProvider services)
    {
        // Without a host nothing would start the ActorSystem's actors or stop the engine.
        if (services.GetService<IHostApplicationLifetime>() is null)
            throw new InvalidOperationException("AddLlmEngine runs the engine in a generic host (Host.CreateApplicationBuilder, "
                + "WebApplication); outside one, give an engine made elsewhere with AddLlmEngine(...).UseEngine(engine).");
        var logger = services.GetService<ILoggerFactory>()?.CreateLogger("LlmEngine");
        return InferenceEngine.Start(services.GetRequiredService<EngineOptions>(), services.GetRequiredService<ActorSystem>(),
            message => logger?.LogInformation("{Message}", message));
    }
}

/// <summary>The seam between the host and the engine's construction.</summary>
public sealed class LlmEngineBuilder(IServiceCollection services)
{
    public IServiceCollection Services { get; } = services;

    /// <summary>How the engine is made: called once, on first resolution, with the service provider
    /// (for <see cref="EngineOptions"/>, logging, an ActorSystem...). The container disposes the
    /// engine at shutdown if it is disposable. The gateway actor serves it too.</summary>
    public LlmEngineBuilder UseEngine(Func<IServiceProvider, ILlmEngine> factory)
    {
        Services.Replace(ServiceDescriptor.Singleton(factory));
        return this;
    }

    /// <summary>An engine made (and disposed) elsewhere: tests, an embedding application.</summary>
    public LlmEngineBuilder UseEngine(ILlmEngine engine)
    {
        Services.Replace(ServiceDescriptor.Singleton(engine));
        return this;
    }
}
