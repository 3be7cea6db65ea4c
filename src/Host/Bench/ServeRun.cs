using LlmEngine.Actors.Engine;
using Spectre.Console;

namespace LlmEngine.Host.Bench;

/// <summary>The outcome of one serving run: vLLM's figures, and, for an in-process server, the KV
/// cache's utilisation over the run.</summary>
internal sealed record ServeOutcome(ServeSummary Summary, KvUtilisation? Kv, IReadOnlyList<RequestRecord> Records, PrefixCacheCounters PrefixCache);

/// <summary>One serving run against a server: draws the requests (clipped to the context the
/// server reports, or the in-process engine's), sends them, summarises.</summary>
internal static class ServeRun
{
    /// <summary>Token ids drawn for an external server whose vocabulary is not given: 3..258,
    /// which every model here has (the byte tokenizer's 259 ids are the smallest vocabulary).</summary>
    public const int SafeVocabulary = 259;

    /// <param name="engines">The servers whose prefix-cache counters make the run's hit rate (every
    /// engine of a cluster); the target alone when empty.</param>
    public static async Task<ServeOutcome> RunAsync(Uri baseAddress, DatasetSpec spec, ServeSettings settings, InferenceEngine? engine, int? vocabSize,
        bool progress, CancellationToken cancel, IReadOnlyList<Uri>? engines = null)
    {
        using var http = ServeClient.CreateHttp(baseAddress);
        var (model, maxLength) = await ServeClient.ModelInfoAsync(http, cancel);
        int context = engine is not null ? DatasetOptionSet.ContextOf(engine) : maxLength ?? 2048;
        int vocab = vocabSize ?? engine?.ModelConfig.VocabSize ?? SafeVocabulary;
        var requests = BenchDataset.Generate(spec, vocab, context);
        engines = engines is { Count: > 0 } ? engines : [baseAddress];
        var before = await PrefixCacheCounters.ReadAsync(http, engines, cancel);
        var (records, duration) = await BenchConsole.WithProgress($"requests at {ArrivalProcess.Format(settings.RequestRate)}/s", requests.Count, progress,
            done => ServeBench.RunAsync(http, model, requests, settings, done, cancel));
        var kv = engine is null ? null : KvUtilisation.From(await engine.RefreshStatisticsAsync(), engine.Options);
        var prefixCache = await PrefixCacheCounters.ReadAsync(http, engines, cancel) - before;
        return new ServeOutcome(ServeSummary.From(records, duration), kv, records, prefixCache);
    }

    /// <summary>The summary as vLLM's serving benchmark prints it, plus normalized latency.</summary>
    public static void Print(ServeSummary s, ServeSettings settings, IAnsiConsole console)
    {
        void Line(string name, string value) => console.WriteLine($"{name,-40}{value,12}");
        void Section(string title) => console.WriteLine(Center(title, '-'));
        console.WriteLine(Center(" Serving Benchmark Result ", '='));
        Line("Successful requests:", $"{s.Completed}");
        Line("Failed requests:", $"{s.Failed}");
        Line("Request rate configured (RPS):", ArrivalProcess.Format(settings.RequestRate));
        Line("Maximum request concurrency:", settings.MaxConcurrency?.ToString() ?? "none");
        Line("Benchmark duration (s):", $"{s.Duration:F2}");
        Line("Total input tokens:", $"{s.TotalInputTokens}");
        Line("Total generated tokens:", $"{s.TotalOutputTokens}");
        Line("Request throughput (req/s):", $"{s.RequestThroughput:F2}");
        Line("Output token throughput (tok/s):", $"{s.OutputThroughput:F2}");
        Line("Total Token throughput (tok/s):", $"{s.TotalTokenThroughput:F2}");
        foreach (var (title, key, d) in new[]
        {
            ("Time to First Token", "TTFT", s.TtftMs), ("Time per Output Token (excl. 1st token)", "TPOT", s.TpotMs),
            ("Inter-token Latency", "ITL", s.ItlMs), ("End-to-end Latency", "E2EL", s.E2elMs),
        })
        {
            Section(title);
            Line($"Mean {key} (ms):", $"{d.Mean:F2}");
            Line($"Median {key} (ms):", $"{d.Median:F2}");
            Line($"P99 {key} (ms):", $"{d.P99:F2}");
        }
        Section("Normalized Latency");
        Line("Mean normalized latency (s/token):", $"{s.MeanNormalizedLatency:F4}");
        console.WriteLine(new string('=', 52));
    }

    private static string Center(string title, char fill)
    {
        int pad = Math.Max(0, 52 - title.Length);
        return new string(fill, pad / 2) + title + new string(fill, pad - pad / 2);
    }
}
