using System.Net;
using LlmEngine.Actors.Engine;
using LlmEngine.Host.Api;
using LlmEngine.Hosting;
using LlmEngine.Scheduling;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace LlmEngine.Tests.Server;

public sealed class HostingTests
{
    private static IConfiguration Config(Dictionary<string, string?> values) => new ConfigurationBuilder().AddInMemoryCollection(values).Build();

    [Fact]
    public void AddLlmEngineBindsEngineOptionsFromConfiguration()
    {
        var services = new ServiceCollection();
        services.AddLlmEngine(Config(new() { ["Engine:BlockSize"] = "32", ["Engine:Device"] = "cuda:0", ["Engine:PreemptionMode"] = "Swap" }).GetSection("Engine"));

        var options = services.BuildServiceProvider().GetRequiredService<EngineOptions>();

        Assert.Equal((32, "cuda:0", PreemptionMode.Swap), (options.BlockSize, options.Device, options.PreemptionMode));
    }

    [Fact]
    public void AddLlmEngineTakesAConfigureDelegate()
    {
        var services = new ServiceCollection();
        services.AddLlmEngine(o => o.MaxNumSeqs = 8);

        Assert.Equal(8, services.BuildServiceProvider().GetRequiredService<EngineOptions>().MaxNumSeqs);
    }

    [Fact]
    public void UseEngineFactoryIsCalledWithTheProviderThatHoldsTheOptions()
    {
        var services = new ServiceCollection();
        services.AddLlmEngine(o => o.ServedModelName = "from-options")
            .UseEngine(sp => new FakeEngine { ModelName = sp.GetRequiredService<EngineOptions>().ServedModelName! });

        Assert.Equal("from-options", services.BuildServiceProvider().GetRequiredService<ILlmEngine>().ModelName);
    }

    [Fact]
    public void ResolvingTheEngineWithoutAFactorySaysWhatIsMissing()
    {
        var services = new ServiceCollection();
        services.AddLlmEngine(_ => { });

        var e = Assert.Throws<InvalidOperationException>(() => services.BuildServiceProvider().GetRequiredService<ILlmEngine>());
        Assert.Contains("UseEngine", e.Message);
    }

    [Fact]
    public async Task ServerBuiltFromServicesServesTheRegisteredEngine()
    {
        var app = OpenAiServer.Build(new ServerOptions { Port = 0 }, b =>
        {
            b.Logging.ClearProviders();
            b.Services.AddLlmEngine(_ => { }).UseEngine(new FakeEngine { ModelName = "registered" });
        });
        await app.StartAsync();
        try
        {
            using var http = new HttpClient { BaseAddress = OpenAiServer.BoundAddress(app) };
            var models = await ServerHost.Json(await http.GetAsync("/v1/models"));
            Assert.Equal("registered", models.GetProperty("data")[0].GetProperty("id").GetString());
        }
        finally
        {
            await app.StopAsync();
            await app.DisposeAsync();
        }
    }

    [Fact]
    public async Task RunAsyncPrintsTheBoundUrlAndStopsOnCancellation()
    {
        var app = OpenAiServer.Build(new FakeEngine(), new ServerOptions { Port = 0 }, b => b.Logging.ClearProviders());
        var output = new StringWriter();
        using var cts = new CancellationTokenSource();

        var run = OpenAiServer.RunAsync(app, output, cts.Token);
        await WaitFor(() => output.ToString().Contains("http://127.0.0.1:"));
        using var http = new HttpClient { BaseAddress = OpenAiServer.BoundAddress(app) };
        var health = await http.GetAsync("/health");
        await cts.CancelAsync();
        await run.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        Assert.Equal($"Serving fake-model at {OpenAiServer.BoundAddress(app)}", output.ToString().Trim());
        await app.DisposeAsync();
    }

    private static async Task WaitFor(Func<bool> condition)
    {
        for (var i = 0; i < 200 && !condition(); i++) await Task.Delay(25);
        Assert.True(condition());
    }
}

public sealed class NoTokenizerTests
{
    [Fact]
    public async Task ModelWithoutTokenizerTakesTokenIdsAndRefusesText()
    {
        await using var server = await ServerHost.Start(new FakeEngine { Tokenizer = null });

        var ids = await server.Post("/v1/completions", new { prompt = new[] { 3 + 'a' }, max_tokens = 2 });
        var text = await server.Post("/v1/completions", new { prompt = "a", max_tokens = 2 });

        Assert.Equal((HttpStatusCode.OK, HttpStatusCode.BadRequest), (ids.StatusCode, text.StatusCode));
    }
}
