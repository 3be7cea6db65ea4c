using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using LlmEngine.Actors.Engine;
using LlmEngine.Host.Api;
using LlmEngine.Tests.Engine;
using LlmEngine.Tests.Loading;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Logging;

namespace LlmEngine.Tests.Reliability;

/// <summary>
/// The engine under more clients than it holds, over HTTP: a client that leaves (streamed or not,
/// queued or running) is aborted within a step, a request's own timeout ends it with "abort", the
/// waiting queue stays bounded with 503s and Retry-After beyond it, every request is accounted for
/// (completed, aborted or refused) and every block comes back.
/// </summary>
public sealed class OverloadTests : IAsyncLifetime
{
    // Every step takes at least this long, so "within a step" is a count of steps, not a race.
    private static readonly TimeSpan Step = TimeSpan.FromMilliseconds(40);
    private const int MaxNumSeqs = 2, MaxWaiting = 4;

    private InferenceEngine _engine = null!;
    private WebApplication _app = null!;
    private HttpClient _http = null!;

    public async Task InitializeAsync()
    {
        _engine = InferenceEngine.Start(new EngineOptions
        {
            Model = SharedModels.Stories260K, NumBlocks = 128, BlockSize = 16, MaxNumSeqs = MaxNumSeqs, MaxWaitingRequests = MaxWaiting,
        }, inner => new FaultyModel(inner) { StepDelay = Step });
        _app = OpenAiServer.Build(_engine, new ServerOptions { Host = "127.0.0.1", Port = 0 }, b => b.Logging.ClearProviders());
        await _app.StartAsync();
        // A cancelled request closes its connection at once instead of draining the body to reuse it.
        _http = new HttpClient(new SocketsHttpHandler { MaxResponseDrainSize = 0 }) { BaseAddress = OpenAiServer.BoundAddress(_app), Timeout = TimeSpan.FromMinutes(2) };
    }

    public async Task DisposeAsync()
    {
        _http.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
        await _engine.DisposeAsync();
    }

    private static object Body(int i, int maxTokens, bool stream = false, double? timeout = null) =>
        timeout is { } t
            ? new { prompt = $"Once upon a time {i}", max_tokens = maxTokens, temperature = 0, ignore_eos = true, stream, timeout = t }
            : new { prompt = $"Once upon a time {i}", max_tokens = maxTokens, temperature = 0, ignore_eos = true, stream };

    /// <summary>Posts and reads the whole answer (a stream to its end); null when <paramref name="ct"/> cut it.</summary>
    private async Task<(HttpStatusCode Status, string Body, string? RetryAfter)?> Post(object body, CancellationToken ct)
    {
        try
        {
            using var response = await _http.PostAsJsonAsync("/v1/completions", body, ct);
            return (response.StatusCode, await response.Content.ReadAsStringAsync(ct), response.Headers.RetryAfter?.ToString());
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            return null;
        }
    }

    private long ClientAborts => _engine.Statistics.Aborts?.GetValueOrDefault(AbortReasons.Client) ?? 0;

    private static async Task Until(Func<bool> condition, string what)
    {
        for (var clock = System.Diagnostics.Stopwatch.StartNew(); !condition(); await Task.Delay(5))
            if (clock.Elapsed > TimeSpan.FromSeconds(30)) throw new TimeoutException(what);
    }

    private async Task AssertEveryBlockFree()
    {
        var stats = await _engine.RefreshStatisticsAsync();
        for (int i = 0; i < 200 && (stats.BlocksFree != stats.BlocksTotal || stats.Running + stats.Waiting > 0); i++)
        {
            await Task.Delay(20);
            stats = await _engine.RefreshStatisticsAsync();
        }
        Assert.Equal(stats.BlocksTotal, stats.BlocksFree);
        Assert.Equal(0, stats.Running + stats.Waiting + stats.Swapped);
        Assert.Null(await _engine.CheckBlockInvariantsAsync());
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(true, true)]
    public async Task AClientThatLeavesIsAbortedWithinAStep(bool stream, bool queued)
    {
        using var fillers = new CancellationTokenSource();
        var fill = queued ? Enumerable.Range(0, MaxNumSeqs).Select(i => Post(Body(i, 400), fillers.Token)).ToList() : [];
        if (queued) await Until(() => _engine.Statistics.Running == MaxNumSeqs, "the fillers run");

        using var leaves = new CancellationTokenSource();
        var victim = Post(Body(9, 400, stream), leaves.Token);
        await Until(() => queued ? _engine.Statistics.Waiting == 1 : _engine.Statistics.Running == 1, "the victim is admitted");
        await Task.Delay(3 * Step); // a few steps in (running), or waiting behind the fillers
        long steps = _engine.Statistics.NumSteps, aborts = ClientAborts;
        leaves.Cancel();
        await Until(() => ClientAborts > aborts, "the engine aborts the request");

        long passed = _engine.Statistics.NumSteps - steps;
        Assert.True(passed <= 2, $"{passed} steps ran before the abort (the one in flight, and at most one more)");
        Assert.Null(await victim);
        await fillers.CancelAsync();
        await Task.WhenAll(fill);
        await AssertEveryBlockFree();
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task ATimeoutEndsTheRequestWithAbortKeepingWhatItHad(bool stream)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var answer = await Post(Body(1, 400, stream, timeout: 0.5), CancellationToken.None);
        clock.Stop();

        Assert.Equal(HttpStatusCode.OK, answer!.Value.Status);
        // 400 tokens take at least 16 s at 40 ms a step; the timeout ends it long before.
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(8), $"took {clock.Elapsed}");
        if (stream)
        {
            Assert.Contains("\"finish_reason\":\"abort\"", answer.Value.Body);
            Assert.EndsWith("data: [DONE]", answer.Value.Body.TrimEnd());
        }
        else
        {
            var choice = JsonDocument.Parse(answer.Value.Body).RootElement.GetProperty("choices")[0];
            Assert.Equal("abort", choice.GetProperty("finish_reason").GetString());
        }
        Assert.Equal(1, _engine.Statistics.Aborts?.GetValueOrDefault(AbortReasons.Deadline));
        await AssertEveryBlockFree();
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    [InlineData(1e9)]
    public async Task ATimeoutOutsideItsRangeIs400(double timeout)
    {
        var answer = await Post(Body(1, 4, timeout: timeout), CancellationToken.None);
        Assert.Equal(HttpStatusCode.BadRequest, answer!.Value.Status);
        Assert.Equal("timeout", JsonDocument.Parse(answer.Value.Body).RootElement.GetProperty("error").GetProperty("param").GetString());
    }

    [Fact]
    public async Task ManyClientsThatGiveUpEarlyLoseNothingAndLeakNoBlock()
    {
        // 40 clients at once where 2 run and 4 wait; a refused client retries after Retry-After, as
        // clients should. Half are patient (a minute for a few tokens): they all complete. The other
        // half give up after 0.3 s to 1.5 s, queued or running.
        const int Clients = 40;
        var random = new Random(15);
        int peakWaiting = 0;
        using var sampling = new CancellationTokenSource();
        var sampler = Task.Run(async () =>
        {
            while (!sampling.IsCancellationRequested)
            {
                peakWaiting = Math.Max(peakWaiting, _engine.Statistics.Waiting);
                await Task.Delay(2);
            }
        });
        var clients = Enumerable.Range(0, Clients).Select(i =>
        {
            bool patient = i % 2 == 0;
            var patience = TimeSpan.FromMilliseconds(patient ? 60_000 : random.Next(300, 1500));
            return Client(Body(i, patient ? random.Next(2, 8) : random.Next(8, 60), stream: i % 4 < 2), patience);
        }).ToList();
        var attempts = await Task.WhenAll(clients);
        await AssertEveryBlockFree();
        await sampling.CancelAsync();
        await sampler;

        var all = attempts.SelectMany(a => a).ToList();
        var refused = all.Where(a => a?.Status == HttpStatusCode.ServiceUnavailable).ToList();
        // Every attempt got its answer, a clean 503 or was given up by its client: no 500, no dropped connection.
        Assert.All(all, a => Assert.True(a is null || a.Value.Status is HttpStatusCode.OK or HttpStatusCode.ServiceUnavailable, $"{a}"));
        Assert.NotEmpty(refused);
        Assert.All(refused, a => Assert.Equal("1", a!.Value.RetryAfter));
        Assert.All(attempts.Where((_, i) => i % 2 == 0), a => Assert.Equal(HttpStatusCode.OK, a[^1]?.Status));
        Assert.Contains(attempts.Where((_, i) => i % 2 == 1), a => a[^1] is null);
        Assert.True(peakWaiting <= MaxWaiting, $"{peakWaiting} waiting at the peak");
        var stats = _engine.Statistics;
        Assert.True(stats.RequestsSucceeded >= all.Count(a => a?.Status == HttpStatusCode.OK), $"{stats}");
        Assert.True(stats.RequestsRejected >= refused.Count, $"{stats}");
        Assert.True((stats.Aborts?.GetValueOrDefault(AbortReasons.Client) ?? 0) > 0, "no request was aborted for its client");
    }

    /// <summary>Posts until answered or out of patience, waiting Retry-After after each 503; every attempt's result.</summary>
    private async Task<List<(HttpStatusCode Status, string Body, string? RetryAfter)?>> Client(object body, TimeSpan patience)
    {
        using var giveUp = new CancellationTokenSource(patience);
        var attempts = new List<(HttpStatusCode Status, string Body, string? RetryAfter)?>();
        while (true)
        {
            var answer = await Post(body, giveUp.Token);
            attempts.Add(answer);
            if (answer?.Status != HttpStatusCode.ServiceUnavailable) return attempts;
            try { await Task.Delay(TimeSpan.FromSeconds(int.Parse(answer.Value.RetryAfter!)), giveUp.Token); }
            catch (OperationCanceledException) { attempts.Add(null); return attempts; }
        }
    }
}
