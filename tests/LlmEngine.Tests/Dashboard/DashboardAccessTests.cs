using System.Net;
using System.Text.Json;
using LlmEngine.Actors.Engine;
using LlmEngine.Host.Api;
using LlmEngine.Host.Dashboard;
using LlmEngine.Tests.Engine;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Logging;

namespace LlmEngine.Tests.Dashboard;

/// <summary>Who may open the dashboard, and what its event stream sends.</summary>
public sealed class DashboardAccessTests
{
    private static async Task<(InferenceEngine, WebApplication, HttpClient)> Serve(Action<ServerOptions> configure)
    {
        var engine = EngineRuns.Stories(numBlocks: 64);
        var options = new ServerOptions { Port = 0 };
        configure(options);
        var app = OpenAiServer.Build(engine, options, b => b.Logging.ClearProviders());
        await app.StartAsync();
        var http = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false, UseCookies = false })
        {
            BaseAddress = OpenAiServer.BoundAddress(app), Timeout = TimeSpan.FromSeconds(20),
        };
        return (engine, app, http);
    }

    private static async Task Stop(InferenceEngine engine, WebApplication app, HttpClient http)
    {
        http.Dispose();
        await app.StopAsync();
        await app.DisposeAsync();
        await engine.DisposeAsync();
    }

    [Fact]
    public async Task WithAnApiKeyTheDashboardWantsItOnceAndThenItsCookie()
    {
        var (engine, app, http) = await Serve(o => o.ApiKey = "sesame");
        try
        {
            Assert.Equal(HttpStatusCode.Unauthorized, (await http.GetAsync("/dashboard")).StatusCode);
            Assert.Equal(HttpStatusCode.Unauthorized, (await http.GetAsync("/dashboard?key=wrong")).StatusCode);
            Assert.Equal(HttpStatusCode.Unauthorized, (await http.GetAsync("/dashboard/events")).StatusCode);

            var login = await http.GetAsync("/dashboard?key=sesame");
            Assert.Equal(HttpStatusCode.Redirect, login.StatusCode);
            var cookie = Assert.Single(login.Headers.GetValues("Set-Cookie")).Split(';')[0];
            Assert.Equal($"{DashboardEndpoints.CookieName}=sesame", cookie);

            var page = new HttpRequestMessage(HttpMethod.Get, "/dashboard/app.js");
            page.Headers.Add("Cookie", cookie);
            var script = await http.SendAsync(page);
            Assert.Equal(HttpStatusCode.OK, script.StatusCode);
            Assert.Contains("EventSource", await script.Content.ReadAsStringAsync());

            var bearer = new HttpRequestMessage(HttpMethod.Get, "/dashboard");
            bearer.Headers.Add("Authorization", "Bearer sesame");
            Assert.Contains("<canvas", await (await http.SendAsync(bearer)).Content.ReadAsStringAsync());
        }
        finally
        {
            await Stop(engine, app, http);
        }
    }

    [Fact]
    public async Task TheEventStreamSendsFramesOfTheWholeCacheEvenWhenIdle()
    {
        var (engine, app, http) = await Serve(_ => { });
        try
        {
            using var response = await http.GetAsync("/dashboard/events", HttpCompletionOption.ResponseHeadersRead);
            Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
            string? line;
            while ((line = await reader.ReadLineAsync()) is not null && !line.StartsWith("data: ")) { }
            var frame = JsonDocument.Parse(line!["data: ".Length..]).RootElement;
            Assert.Equal(engine.NumBlocks, frame.GetProperty("counts").GetProperty("deviceBlocks").GetInt32());
            Assert.Equal(new string('f', engine.NumBlocks), frame.GetProperty("cells").GetProperty("device").GetString());
            Assert.Equal(0, frame.GetProperty("requests").GetArrayLength());
        }
        finally
        {
            await Stop(engine, app, http);
        }
    }

    [Fact]
    public async Task TurnedOffThereIsNoDashboard()
    {
        var (engine, app, http) = await Serve(o => o.Dashboard = false);
        try
        {
            Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync("/dashboard")).StatusCode);
        }
        finally
        {
            await Stop(engine, app, http);
        }
    }
}
