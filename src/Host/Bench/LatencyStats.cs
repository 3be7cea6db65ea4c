namespace LlmEngine.Host.Bench;

/// <summary>Summary statistics as numpy computes them (vLLM's benchmarks use numpy):
/// percentiles by linear interpolation between order statistics, population standard deviation,
/// and 0 for an empty list.</summary>
internal static class LatencyStats
{
    /// <summary>numpy.percentile's default ("linear"): rank p/100 * (n - 1), interpolated.</summary>
    public static double Percentile(IReadOnlyList<double> values, double p)
    {
        if (values.Count == 0) return 0;
        if (p is < 0 or > 100) throw new ArgumentOutOfRangeException(nameof(p), p, "a percentile is between 0 and 100");
        var sorted = values.Order().ToArray();
        double rank = p / 100 * (sorted.Length - 1);
        int below = (int)Math.Floor(rank);
        int above = Math.Min(below + 1, sorted.Length - 1);
        return sorted[below] + (sorted[above] - sorted[below]) * (rank - below);
    }

    public static double Mean(IReadOnlyList<double> values) => values.Count == 0 ? 0 : values.Average();

    public static double Median(IReadOnlyList<double> values) => Percentile(values, 50);

    public static double Std(IReadOnlyList<double> values)
    {
        if (values.Count == 0) return 0;
        double mean = values.Average();
        return Math.Sqrt(values.Sum(v => (v - mean) * (v - mean)) / values.Count);
    }
}

/// <summary>
/// What the client saw of one streamed request (seconds from when it was sent):
/// time to the first chunk with tokens, the gaps between later chunks, and the total.
/// </summary>
internal sealed record RequestRecord(bool Success, int PromptLength, int OutputTokens, double Ttft, IReadOnlyList<double> Itl, double Latency, string? Error = null)
{
    public static RequestRecord Failed(int promptLength, string error, double latency = 0) => new(false, promptLength, 0, 0, [], latency, error);

    /// <summary>Time per output token after the first (vLLM's TPOT); null with fewer than 2 tokens.</summary>
    public double? Tpot => Success && OutputTokens > 1 ? (Latency - Ttft) / (OutputTokens - 1) : null;

    /// <summary>End-to-end latency per output token (the PagedAttention paper's normalized latency).</summary>
    public double? NormalizedLatency => Success && OutputTokens > 0 ? Latency / OutputTokens : null;
}

/// <summary>
/// The serving benchmark's figures, computed as vLLM's <c>benchmark_serving</c> does: TTFT and
/// end-to-end latency per completed request; TPOT = (latency - TTFT) / (output tokens - 1) per
/// request with more than one token; ITL pooled over all gaps between consecutive chunks of all
/// requests. Throughputs divide by the whole run's duration. Milliseconds for latencies, except the
/// normalized latency, in seconds per token as the paper plots it.
/// </summary>
internal sealed record ServeSummary(
    int Completed, int Failed, double Duration, long TotalInputTokens, long TotalOutputTokens,
    double RequestThroughput, double OutputThroughput, double TotalTokenThroughput,
    Distribution TtftMs, Distribution TpotMs, Distribution ItlMs, Distribution E2elMs, double MeanNormalizedLatency)
{
    public static ServeSummary From(IReadOnlyList<RequestRecord> records, double duration)
    {
        var ok = records.Where(r => r.Success).ToList();
        long input = ok.Sum(r => (long)r.PromptLength), output = ok.Sum(r => (long)r.OutputTokens);
        double Per(double x) => duration > 0 ? x / duration : 0;
        return new ServeSummary(ok.Count, records.Count - ok.Count, duration, input, output,
            Per(ok.Count), Per(output), Per(input + output),
            Distribution.Of(ok.Select(r => r.Ttft * 1000).ToList()),
            Distribution.Of(ok.Where(r => r.Tpot is not null).Select(r => r.Tpot!.Value * 1000).ToList()),
            Distribution.Of(ok.SelectMany(r => r.Itl).Select(s => s * 1000).ToList()),
            Distribution.Of(ok.Select(r => r.Latency * 1000).ToList()),
            LatencyStats.Mean(ok.Where(r => r.NormalizedLatency is not null).Select(r => r.NormalizedLatency!.Value).ToList()));
    }

    /// <summary>vLLM's result keys (ms for latencies) plus <c>mean_normalized_latency</c> (s/token).</summary>
    public Dictionary<string, object> ToJson()
    {
        var json = new Dictionary<string, object>
        {
            ["completed"] = Completed,
            ["failed"] = Failed,
            ["duration"] = Duration,
            ["total_input_tokens"] = TotalInputTokens,
            ["total_output_tokens"] = TotalOutputTokens,
            ["request_throughput"] = RequestThroughput,
            ["output_throughput"] = OutputThroughput,
            ["total_token_throughput"] = TotalTokenThroughput,
        };
        foreach (var (name, d) in new[] { ("ttft", TtftMs), ("tpot", TpotMs), ("itl", ItlMs), ("e2el", E2elMs) })
        {
            json[$"mean_{name}_ms"] = d.Mean;
            json[$"median_{name}_ms"] = d.Median;
            json[$"std_{name}_ms"] = d.Std;
            json[$"p99_{name}_ms"] = d.P99;
        }
        json["mean_normalized_latency"] = MeanNormalizedLatency;
        return json;
    }
}

internal sealed record Distribution(int Count, double Mean, double Median, double Std, double P99)
{
    public static Distribution Of(IReadOnlyList<double> values) =>
        new(values.Count, LatencyStats.Mean(values), LatencyStats.Median(values), LatencyStats.Std(values), LatencyStats.Percentile(values, 99));
}
