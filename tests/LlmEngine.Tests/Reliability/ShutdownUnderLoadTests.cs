using System.Diagnostics;
using System.Net.Http.Json;
using LlmEngine.Tests.Loading;

namespace LlmEngine.Tests.Reliability;

/// <summary>SIGTERM to a real <c>serve</c> process with streams in flight: every stream ends properly
/// (those cut by the grace period with a last chunk whose finish_reason is "abort", then <c>[DONE]</c>),
/// a request on a new connection meanwhile gets 503 (the server still listens while it drains), and
/// the process exits 0 (System.CommandLine's 2 s termination timeout used to end it mid-drain).</summary>
[Trait("Category", "Slow")]
public sealed class ShutdownUnderLoadTests
{
    private sealed record StreamEnd(bool Done, string? LastFinishReason, bool ErrorEvent);

    [Fact]
    public async Task SigtermDrainsThenAbortsEveryStreamCleanlyAndExitsZero()
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { Path.Combine(AppContext.BaseDirectory, "llm-engine.dll"), "serve", "--model", SharedModels.Stories260K,
                     "--num-blocks", "2048", "--port", "0", "--shutdown-grace-seconds", "1" })
            start.ArgumentList.Add(a);
        using var server = Process.Start(start)!;
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
            string? url = null;
            while (url is null && await server.StandardError.ReadLineAsync(timeout.Token) is { } line)
                if (line.StartsWith("Serving ")) url = line[(line.LastIndexOf(" at ", StringComparison.Ordinal) + 4)..];
            Assert.NotNull(url);
            var drain = server.StandardError.ReadToEndAsync();
            using var client = new HttpClient { BaseAddress = new Uri(url), Timeout = TimeSpan.FromMinutes(1) };

            // The signal comes once every stream is in flight (has its first chunk), so work is left
            // that the 1 s grace period cannot finish: 64 x 400 tokens (16 were done within it once
            // the engine ran stories260K fast enough; the cache holds all 64 at once).
            const int Streams = 64;
            var inFlight = new CountdownEvent(Streams);
            var streams = Enumerable.Range(0, Streams).Select(i => Stream(client, i, inFlight)).ToList();
            await Task.Run(() => inFlight.Wait(timeout.Token));
            Process.Start("kill", ["-TERM", server.Id.ToString()])!.WaitForExit();
            // Admission stops once the signal is handled (which a loaded machine may delay): a new
            // request, on a connection of its own, then gets 503 while the streams drain.
            int late = 0;
            for (int attempt = 0; attempt < 50 && late != 503; attempt++)
            {
                await Task.Delay(100);
                using var fresh = new HttpClient { BaseAddress = new Uri(url), Timeout = TimeSpan.FromSeconds(30) };
                try { late = (int)(await fresh.PostAsJsonAsync("/v1/completions", new { prompt = "late", max_tokens = 2 })).StatusCode; }
                catch (HttpRequestException) { late = -1; } // connection refused: the server stopped listening before draining
            }
            StreamEnd[] ends;
            try { ends = await Task.WhenAll(streams); }
            catch (Exception e) { throw new Exception(await drain, e); }
            await server.WaitForExitAsync(timeout.Token);

            Assert.Equal(503, late);
            // Every stream ends properly: [DONE] after its last chunk, no error event; one cut short by
            // the grace period says so with finish_reason "abort".
            Assert.All(ends, e => Assert.True(e.Done, "a stream ended without [DONE]"));
            Assert.All(ends, e => Assert.True(!e.ErrorEvent && e.LastFinishReason is "length" or "abort", $"stream ended with {e}"));
            Assert.Contains(ends, e => e.LastFinishReason == "abort");
            Assert.Equal(0, server.ExitCode);
            await drain;
        }
        finally
        {
            if (!server.HasExited) server.Kill(entireProcessTree: true);
        }
    }

    private static async Task<StreamEnd> Stream(HttpClient client, int i, CountdownEvent inFlight)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/completions")
        {
            Content = JsonContent.Create(new { prompt = $"Once upon a time {i}", max_tokens = 400, temperature = 0, ignore_eos = true, stream = true }),
        };
        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        response.EnsureSuccessStatusCode();
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        bool done = false, error = false;
        string? finish = null;
        int chunks = 0;
        while (await reader.ReadLineAsync() is { } line)
        {
            if (!line.StartsWith("data: ")) continue;
            var data = line["data: ".Length..];
            if (data == "[DONE]") { done = true; continue; }
            using var json = System.Text.Json.JsonDocument.Parse(data);
            if (json.RootElement.TryGetProperty("error", out _)) { error = true; continue; }
            if (chunks++ == 0) inFlight.Signal();
            foreach (var choice in json.RootElement.GetProperty("choices").EnumerateArray())
                if (choice.TryGetProperty("finish_reason", out var f) && f.ValueKind == System.Text.Json.JsonValueKind.String) finish = f.GetString();
        }
        return new StreamEnd(done, finish, error);
    }
}
