using LlmEngine.Actors.Engine;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace LlmEngine.Host.Hosting;

/// <summary>
/// Registers the engine's options and its facade in a generic host:
/// <code>
///   services.AddLlmEngine(configuration.GetSection("Engine"))
///           .UseEngine(sp => /* build the actor system and return its ILlmEngine */);
/// </code>
/// The options are bound from configuration (and available both as <see cref="IOptions{EngineOptions}"/>
/// and as a plain <see cref="EngineOptions"/> singleton). How an <see cref="ILlmEngine"/> is made
/// (Akka.Hosting, the actor system, model loading) is the engine's business: it plugs in through
/// <see cref="LlmEngineBuilder.UseEngine"/>. Until it does, resolving <see cref="ILlmEngine"/> fails
/// with a message saying so.
/// </summary>
public static class LlmEngineServiceCollectionExtensions
{
    public static LlmEngineBuilder AddLlmEngine(this IServiceCollection services, IConfiguration section)
    {
        services.AddOptions<EngineOptions>().Bind(section);
        return AddCore(services);
    }

    public static LlmEngineBuilder AddLlmEngine(this IServiceCollection services, Action<EngineOptions> configure)
    {
        services.AddOptions<EngineOptions>().Configure(configure);
        return AddCore(services);
    }

    private static LlmEngineBuilder AddCore(IServiceCollection services)
    {
        services.TryAddSingleton(sp => sp.GetRequiredService<IOptions<EngineOptions>>().Value);
        services.TryAddSingleton<ILlmEngine>(_ => throw new InvalidOperationException(
            "No ILlmEngine is registered: call AddLlmEngine(...).UseEngine(factory) with the engine's factory."));
        return new LlmEngineBuilder(services);
    }
}

/// <summary>The seam between the host and the engine's construction.</summary>
public sealed class LlmEngineBuilder(IServiceCollection services)
{
    public IServiceCollection Services { get; } = services;

    /// <summary>How the engine is made: called once, on first resolution, with the service provider
    /// (for <see cref="EngineOptions"/>, logging, an ActorSystem...). The container disposes the
    /// engine at shutdown if it is disposable.</summary>
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
