using System.Diagnostics;

namespace LlmEngine.Host.Bench;

/// <summary>How requests are sent: arrival rate (requests/s, infinity: all at once), burstiness
/// of the Gamma arrivals, the most requests in flight (null: no limit), seed of the arrivals,
/// and whether to ask for logprobs (which makes every token arrive in its own chunk).</summary>
internal sealed record ServeSettings(double RequestRate, double Burstiness = 1, int? MaxConcurrency = null, int Seed = 0, bool Logprobs = true);

/// <summary>
/// The online benchmark's loop, as vLLM's <c>benchmark_serving</c>: one warm-up request, then the
/// requests in order, each sent when its arrival comes (the arrival clock does not wait for the
/// concurrency limit: a request over the limit waits for a free seat and its latency counts from
/// when it is sent). Duration is from the first send to the last response's end.
/// </summary>
internal static class ServeBench
{
    public static async Task<(IReadOnlyList<RequestRecord> Records, double Duration)> RunAsync(
        HttpClient http, string? model, IReadOnlyList<BenchRequest> requests, ServeSettings settings, Action onDone, CancellationToken cancel = default)
    {
        var client = new ServeClient(http, model, settings.Logprobs);
        await WarmUp(client, requests[0], cancel);

        var arrivals = new ArrivalProcess(settings.RequestRate, settings.Burstiness, new Random(settings.Seed));
        using var seats = settings.MaxConcurrency is int m ? new SemaphoreSlim(m) : null;
        var clock = Stopwatch.StartNew();
        double next = 0;
        var tasks = new List<Task<RequestRecord>>(requests.Count);
        foreach (var request in requests)
        {
            double wait = next - clock.Elapsed.TotalSeconds;
            if (wait > 0) await Task.Delay(TimeSpan.FromSeconds(wait), cancel);
            tasks.Add(Send(client, request, seats, onDone, cancel));
            next += arrivals.NextGap();
        }
        var records = await Task.WhenAll(tasks);
        return (records, clock.Elapsed.TotalSeconds);
    }

    /// <summary>A few short requests together, so the server's and the engine's first calls (JIT,
    /// libtorch's first kernels) are not timed. Their prompts are the first one's leading tokens
    /// rotated, so their blocks hash differently and prime no prefix of the measured requests.</summary>
    private static async Task WarmUp(ServeClient client, BenchRequest first, CancellationToken cancel)
    {
        var head = first.PromptTokenIds.Take(16).ToArray();
        var runs = Enumerable.Range(1, 4).Select(k => client.SendAsync(new BenchRequest([.. head.Skip(k % head.Length), .. head.Take(k % head.Length).Reverse()], 4), cancel));
        foreach (var warm in await Task.WhenAll(runs))
            if (!warm.Success) throw new InvalidOperationException($"a warm-up request failed: {warm.Error}");
    }

    private static async Task<RequestRecord> Send(ServeClient client, BenchRequest request, SemaphoreSlim? seats, Action onDone, CancellationToken cancel)
    {
        if (seats is not null) await seats.WaitAsync(cancel);
        try
        {
            return await client.SendAsync(request, cancel);
        }
        finally
        {
            seats?.Release();
            onDone();
        }
    }
}
