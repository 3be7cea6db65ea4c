using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;

namespace LlmEngine.Host.Bench;

/// <summary>The settings of a soak: closed-loop clients, each sending one streamed completion after
/// another for <see cref="Duration"/> and giving up on one after <see cref="Patience"/>; a 503 makes
/// a client wait its Retry-After before the next request.</summary>
internal sealed record SoakSettings(int Clients, TimeSpan Duration, TimeSpan Patience, TimeSpan Interval, int MinTokens, int MaxTokens, int Seed);

/// <summary>One reporting interval of a soak: its requests by outcome.</summary>
internal sealed record SoakInterval(double EndSeconds, int Completed, int Refused, int GaveUp, int Lost);

/// <summary>What a soak saw: per interval and in all; "lost" is a request that got neither its answer
/// nor a clean error (a 5xx, a dropped connection, a stream without <c>[DONE]</c>); leaked blocks are
/// those still held once every client has stopped and the engine is idle (null when not known).</summary>
internal sealed record SoakOutcome(IReadOnlyList<SoakInterval> Intervals, int? LeakedBlocks, IReadOnlyList<string> LostExamples)
{
    public int Completed => Intervals.Sum(i => i.Completed);
    public int Refused => Intervals.Sum(i => i.Refused);
    public int GaveUp => Intervals.Sum(i => i.GaveUp);
    public int Lost => Intervals.Sum(i => i.Lost);

    public Dictionary<string, object?> ToJson() => new()
    {
        ["completed"] = Completed,
        ["refused_503"] = Refused,
        ["gave_up"] = GaveUp,
        ["lost"] = Lost,
        ["leaked_blocks"] = LeakedBlocks,
        ["intervals"] = Intervals.Select(i => new Dictionary<string, object>
        {
            ["end_s"] = Math.Round(i.EndSeconds, 1), ["completed"] = i.Completed, ["refused_503"] = i.Refused, ["gave_up"] = i.GaveUp, ["lost"] = i.Lost,
        }).ToList(),
        ["lost_examples"] = LostExamples.Take(10).ToList(),
    };
}

/// <summary>Runs a soak against a server (<see cref="SoakSettings"/>).</summary>
internal static class SoakRun
{
    private enum Outcome { Completed, Refused, GaveUp, Lost }

    public static async Task<SoakOutcome> RunAsync(Uri baseAddress, SoakSettings settings, Func<Task<int?>> leakedBlocks,
        Action<SoakInterval>? report = null, CancellationToken ct = default)
    {
        using var http = new HttpClient(new SocketsHttpHandler { MaxResponseDrainSize = 0 }) { BaseAddress = baseAddress, Timeout = Timeout.InfiniteTimeSpan };
        var clock = Stopwatch.StartNew();
        var counts = new int[4];
        var lost = new System.Collections.Concurrent.ConcurrentQueue<string>();
        var intervals = new List<SoakInterval>();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        stop.CancelAfter(settings.Duration);

        var clients = Enumerable.Range(0, settings.Clients).Select(c => Task.Run(async () =>
        {
            var random = new Random(settings.Seed * 7919 + c);
            for (int n = 0; !stop.IsCancellationRequested; n++)
            {
                var (outcome, retryAfter, error) = await Once(http, c, n, random.Next(settings.MinTokens, settings.MaxTokens + 1), settings.Patience, stop.Token);
                if (stop.IsCancellationRequested && outcome == Outcome.GaveUp) break; // cut by the end of the run, not by patience
                Interlocked.Increment(ref counts[(int)outcome]);
                if (error is not null) lost.Enqueue(error);
                if (retryAfter is { } wait) await Delay(wait, stop.Token);
            }
        })).ToList();

        var reporter = Task.Run(async () =>
        {
            var last = new int[4];
            while (!stop.IsCancellationRequested)
            {
                await Delay(settings.Interval, stop.Token);
                var now = counts.ToArray();
                var interval = new SoakInterval(clock.Elapsed.TotalSeconds, now[0] - last[0], now[1] - last[1], now[2] - last[2], now[3] - last[3]);
                last = now;
                intervals.Add(interval);
                report?.Invoke(interval);
            }
            return last;
        });
        await Task.WhenAll(clients);
        var reported = await reporter;
        var final = counts.ToArray();
        if (final.Zip(reported).Any(p => p.First != p.Second))
            intervals.Add(new SoakInterval(clock.Elapsed.TotalSeconds, final[0] - reported[0], final[1] - reported[1], final[2] - reported[2], final[3] - reported[3]));
        return new SoakOutcome(intervals, await leakedBlocks(), [.. lost]);
    }

    private static async Task<(Outcome, TimeSpan?, string?)> Once(HttpClient http, int client, int n, int maxTokens, TimeSpan patience, CancellationToken stop)
    {
        using var giveUp = CancellationTokenSource.CreateLinkedTokenSource(stop);
        giveUp.CancelAfter(patience);
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "v1/completions")
            {
                Content = JsonContent.Create(new { prompt = $"Once upon a time {client}-{n}", max_tokens = maxTokens, temperature = 0.8, seed = n, ignore_eos = true, stream = true }),
            };
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, giveUp.Token);
            if (response.StatusCode == HttpStatusCode.ServiceUnavailable)
                return (Outcome.Refused, response.Headers.RetryAfter?.Delta ?? TimeSpan.FromSeconds(1), null);
            var body = await response.Content.ReadAsStringAsync(giveUp.Token);
            if (response.StatusCode != HttpStatusCode.OK || !body.TrimEnd().EndsWith("data: [DONE]", StringComparison.Ordinal) || body.Contains("\"error\""))
                return (Outcome.Lost, null, $"{(int)response.StatusCode}: {(body.Length > 200 ? body[^200..] : body)}");
            return (Outcome.Completed, null, null);
        }
        catch (OperationCanceledException) when (giveUp.IsCancellationRequested)
        {
            return (Outcome.GaveUp, null, null);
        }
        catch (HttpRequestException e)
        {
            return (Outcome.Lost, null, e.Message);
        }
    }

    private static async Task Delay(TimeSpan time, CancellationToken ct)
    {
        try { await Task.Delay(time, ct); }
        catch (OperationCanceledException) { }
    }
}
