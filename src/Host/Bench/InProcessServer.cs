using LlmEngine.Actors.Engine;
using LlmEngine.Host.Api;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Logging;

namespace LlmEngine.Host.Bench;

/// <summary>The engine and the OpenAI-compatible server in this process, on a free loopback port.</summary>
internal sealed class InProcessServer : IAsyncDisposable
{
    private InProcessServer(InferenceEngine engine, WebApplication app) => (Engine, App, BaseAddress) = (engine, app, OpenAiServer.BoundAddress(app));

    public InferenceEngine Engine { get; }
    public WebApplication App { get; }
    public Uri BaseAddress { get; }

    public static async Task<InProcessServer> StartAsync(EngineOptions options, Action<string>? log = null)
    {
        var engine = InferenceEngine.Start(options, log: log);
        try
        {
            var app = OpenAiServer.Build(engine, new ServerOptions { Host = "127.0.0.1", Port = 0 }, b => b.Logging.ClearProviders());
            await app.StartAsync();
            return new InProcessServer(engine, app);
        }
        catch
        {
            await engine.DisposeAsync();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await App.StopAsync();
        await App.DisposeAsync();
        await Engine.DisposeAsync();
    }
}
