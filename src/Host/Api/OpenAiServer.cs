using LlmEngine.Actors.Cluster;
using LlmEngine.Actors.Engine;
using LlmEngine.Actors.Observing;
using LlmEngine.Host.Dashboard;
using LlmEngine.Host.Tracing;
using LlmEngine.Host.Metrics;
using LlmEngine.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace LlmEngine.Host.Api;

/// <summary>
/// The OpenAI-compatible HTTP server (vLLM's endpoints) over any <see cref="ILlmEngine"/>.
/// <code>
///   var app = OpenAiServer.Build(engine, new ServerOptions { Port = 8000, ApiKey = key });
///   await OpenAiServer.RunAsync(app, Console.Out, ct);   // prints the bound URL, runs until shutdown
/// </code>
/// </summary>
internal static class OpenAiServer
{
    /// <summary>A configured server over this engine instance. <paramref name="configure"/> may add
    /// services, logging or Kestrel settings before the app is built.</summary>
    public static WebApplication Build(ILlmEngine engine, ServerOptions options, Action<WebApplicationBuilder>? configure = null) =>
        Build(options, builder =>
        {
            builder.Services.AddSingleton(engine);
            configure?.Invoke(builder);
        });

    /// <summary>A configured server over the <see cref="ILlmEngine"/> that <paramref name="configure"/>
    /// registers (e.g. with <c>services.AddLlmEngine(...)</c>); resolved once, when the app is built.</summary>
    public static WebApplication Build(ServerOptions options, Action<WebApplicationBuilder> configure)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls($"http://{HostForUrl(options.Host, options.Port)}:{options.Port}");
        builder.WebHost.ConfigureKestrel(k => k.Limits.MaxRequestBodySize = options.MaxRequestBodyBytes);
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        builder.Services.AddSingleton(options);
        builder.Services.AddSingleton(_ => ChatPrompt.Load(options));
        builder.Services.AddSingleton(sp =>
        {
            var engine = EngineOf(sp);
            return new ServerMetrics(engine, ServedModel(engine, options));
        });
        builder.Services.AddSingleton(sp => EngineOf(sp) is IObservedEngine observed && options.Dashboard
            ? new DashboardHub(observed.Observer, options.DashboardInterval) : null!);
        builder.Services.AddSingleton(sp => EngineOf(sp) is IObservedEngine observed ? new TraceEndpoints(observed.Observer) : null!);
        builder.Services.AddHostedService<TraceFileService>();
        builder.Services.AddCors();
        HttpTracing.Add(builder.Services, options);
        configure(builder);

        var app = builder.Build();
        Map(app, EngineOf(app.Services), options);
        return app;
    }

    /// <summary>The engine HTTP requests go to: the <see cref="LlmClusterServiceCollectionExtensions.FrontDoor"/>
    /// if one is registered (a cluster node's router), else the host's engine.</summary>
    public static ILlmEngine EngineOf(IServiceProvider services) =>
        services.GetKeyedService<ILlmEngine>(LlmClusterServiceCollectionExtensions.FrontDoor) ?? services.GetRequiredService<ILlmEngine>();

    /// <summary>The name clients must pass as "model".</summary>
    public static string ServedModel(ILlmEngine engine, ServerOptions options) =>
        options.ServedModelName is { Length: > 0 } name ? name : engine.ModelName;

    /// <summary>The address the server listens on, once started (the real port when 0 was asked).</summary>
    public static Uri BoundAddress(WebApplication app) =>
        new(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses.FirstOrDefault()
            ?? throw new InvalidOperationException("The server is not started."));

    /// <summary>Starts the server, writes "Serving MODEL at URL" to <paramref name="output"/>, and
    /// runs until the host shuts down (Ctrl+C, SIGTERM) or <paramref name="ct"/> is cancelled.</summary>
    public static async Task RunAsync(WebApplication app, TextWriter? output = null, CancellationToken ct = default)
    {
        await app.StartAsync(ct);
        var engine = EngineOf(app.Services);
        output?.WriteLine($"Serving {ServedModel(engine, app.Services.GetRequiredService<ServerOptions>())} at {BoundAddress(app)}");
        try
        {
            await app.WaitForShutdownAsync(ct);
        }
        finally
        {
            await app.StopAsync(CancellationToken.None);
        }
    }

    private static void Map(WebApplication app, ILlmEngine engine, ServerOptions options)
    {
        var model = ServedModel(engine, options);
        var metrics = app.Services.GetRequiredService<ServerMetrics>();
        var chat = app.Services.GetRequiredService<ChatPrompt>();
        var structured = new StructuredOutputs(engine);
        var completions = new CompletionsEndpoint(engine, metrics, structured, model);
        var chatCompletions = new ChatCompletionsEndpoint(engine, metrics, chat, structured, model, AutoToolParser(options));
        var responses = new Responses.ResponsesEndpoint(engine, metrics, chatCompletions, model);
        var info = new InfoEndpoints(engine, metrics, chat, model);

        app.UseMiddleware<ErrorMiddleware>();
        // Before the key check: a browser's preflight carries no Authorization header.
        if (options.AllowedOrigins.Count > 0)
            app.UseCors(policy => (options.AllowedOrigins.Contains("*") ? policy.AllowAnyOrigin() : policy.WithOrigins([.. options.AllowedOrigins]))
                .AllowAnyMethod().AllowAnyHeader());
        if (options.ApiKey is { Length: > 0 } key) app.UseMiddleware<ApiKeyMiddleware>(key);
        if (engine is ClusterEngine forwarder)
        {
            app.UseMiddleware<ModelForwarding>(forwarder, model);
            app.Lifetime.ApplicationStarted.Register(() => forwarder.AdvertiseHttp(BoundAddress(app)));
        }
        app.UseRouting();

        app.MapPost("/v1/completions", completions.Handle);
        app.MapPost("/v1/chat/completions", chatCompletions.Handle);
        app.MapPost("/v1/responses", responses.Handle);
        app.MapGet("/v1/models", info.Models);
        app.MapGet("/v1/models/{**id}", info.Model);
        // As vLLM: /ping (SageMaker's probe) answers as /health does; HEAD for probes that send it.
        foreach (var health in new[] { "/health", "/ping" }) app.MapMethods(health, ["GET", "HEAD"], info.Health);
        app.MapPost("/ping", info.Health);
        app.MapGet("/version", info.VersionInfo);
        app.MapPost("/tokenize", info.Tokenize);
        app.MapPost("/detokenize", info.Detokenize);
        app.MapGet("/metrics", info.Metrics);
        if (engine is ClusterEngine cluster) app.MapGet("/cluster", () => Results.Json(ClusterView.Of(cluster), ApiJson.Options));
        if (app.Services.GetService<DashboardHub>() is { } hub) DashboardEndpoints.Map(app, hub, options.ApiKey);
        app.Services.GetService<TraceEndpoints>()?.Map(app);
    }

    /// <summary>The parser tool_choice "auto" uses; a flag without the other, or an unknown
    /// parser, is refused when the server is built (as vLLM refuses to start).</summary>
    public static Tools.IToolCallParser? AutoToolParser(ServerOptions options)
    {
        if (options.ToolCallParser is { Length: > 0 } name)
        {
            var parser = Tools.ToolCallParsers.Named(name);
            return options.EnableAutoToolChoice ? parser : null;
        }
        if (options.EnableAutoToolChoice) throw new ArgumentException("--enable-auto-tool-choice needs --tool-call-parser to be set.");
        return null;
    }

    // IPv6 literals need brackets in a URL; Kestrel refuses a free port (0) on "localhost", so the
    // loopback address stands in for it there.
    private static string HostForUrl(string host, int port) => host switch
    {
        "localhost" when port == 0 => "127.0.0.1",
        "" or "0.0.0.0" or "*" => "0.0.0.0",
        "::" => "[::]",
        _ when host.Contains(':') && !host.StartsWith('[') => $"[{host}]",
        _ => host,
    };
}
