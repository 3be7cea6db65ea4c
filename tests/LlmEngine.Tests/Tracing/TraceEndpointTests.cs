using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using LlmEngine.Host.Api;
using LlmEngine.Host.Tracing;
using LlmEngine.Tests.Engine;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OpenTelemetry.Trace;

namespace LlmEngine.Tests.Tracing;

/// <summary>Recording a step trace over HTTP or to --trace FILE, and OpenTelemetry spans of HTTP
/// requests that name the engine's request.</summary>
public sealed class TraceEndpointTests
{
    private static async Task<T> WithServer<T>(Action<ServerOptions> configure, Func<HttpClient, Task<T>> act, Action<WebApplicationBuilder>? builder = null)
    {
        await using var engine = EngineRuns.Stories(numBlocks: 64);
        var options = new ServerOptions { Port = 0 };
        configure(options);
        var app = OpenAiServer.Build(engine, options, b =>
        {
            b.Logging.ClearProviders();
            builder?.Invoke(b);
        });
        await app.StartAsync();
        try
        {
            using var http = new HttpClient { BaseAddress = OpenAiServer.BoundAddress(app), Timeout = TimeSpan.FromSeconds(30) };
            return await act(http);
        }
        finally
        {
            await app.StopAsync();
            await app.DisposeAsync();
        }
    }

    private static async Task<string> Complete(HttpClient http)
    {
        var response = await http.PostAsJsonAsync("/v1/completions", new { model = "stories260K", prompt = "Once upon a time", max_tokens = 8, temperature = 0 });
        response.EnsureSuccessStatusCode();
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("id").GetString()!;
    }

    private static IEnumerable<string> RequestTracks(JsonElement trace) =>
        trace.GetProperty("traceEvents").EnumerateArray()
            .Where(e => e.GetProperty("ph").GetString() == "M" && e.GetProperty("name").GetString() == "thread_name" && e.GetProperty("pid").GetInt32() == 2)
            .Select(e => e.GetProperty("args").GetProperty("name").GetString()!);

    [Fact]
    public async Task StartAndStopAnswerTheTraceOfTheRequestsBetween()
    {
        await WithServer(_ => { }, async http =>
        {
            var early = await http.PostAsync("/trace/stop", null);
            Assert.Equal(HttpStatusCode.Conflict, early.StatusCode);
            Assert.Contains("POST /trace/start", JsonDocument.Parse(await early.Content.ReadAsStringAsync()).RootElement.GetProperty("error").GetProperty("message").GetString());

            Assert.Equal(HttpStatusCode.OK, (await http.PostAsync("/trace/start", null)).StatusCode);
            Assert.Equal(HttpStatusCode.Conflict, (await http.PostAsync("/trace/start", null)).StatusCode);
            var id = await Complete(http);
            var stop = await http.PostAsync("/trace/stop", null);
            Assert.Equal("application/json", stop.Content.Headers.ContentType?.MediaType);
            var trace = JsonDocument.Parse(await stop.Content.ReadAsStringAsync()).RootElement;
            Assert.Equal([id], RequestTracks(trace));
            return 0;
        });
    }

    [Fact]
    public async Task TraceFileHoldsEveryRequestUntilTheServerStops()
    {
        var path = Path.Combine(Path.GetTempPath(), $"trace-{Guid.NewGuid():N}.json");
        try
        {
            var ids = await WithServer(o => o.TraceFile = path, async http => new[] { await Complete(http), await Complete(http) });
            using var trace = JsonDocument.Parse(File.ReadAllText(path));
            Assert.Equal(ids.Order(), RequestTracks(trace.RootElement).Order());
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public async Task AnHttpRequestsSpanCarriesTheEngineRequestId()
    {
        var spans = new List<System.Diagnostics.Activity>();
        var id = await WithServer(o => o.OtlpTracesEndpoint = "http://127.0.0.1:9/v1/traces", async http =>
        {
            var id = await Complete(http);
            for (int i = 0; i < 100 && !spans.ToArray().Any(s => Carries(s, id)); i++) await Task.Delay(20);
            return id;
        }, b => b.Services.ConfigureOpenTelemetryTracerProvider(t => t.AddInMemoryExporter(spans)));
        // The listener sees every ASP.NET Core server in this process, so tests running beside this
        // one add spans of their own: this request's span is the one that carries its id.
        var span = Assert.Single(spans.ToArray(), s => Carries(s, id));
        Assert.Equal("POST /v1/completions", span.DisplayName);
    }

    private static bool Carries(System.Diagnostics.Activity span, string id) =>
        id.Equals(span.GetTagItem(HttpTracing.RequestIdAttribute));

    [Fact]
    public async Task WithoutAnEndpointNothingIsTraced()
    {
        await WithServer(_ => { }, http => Task.FromResult(0), b =>
            Assert.DoesNotContain(b.Services, d => d.ServiceType == typeof(TracerProvider)));
    }
}
