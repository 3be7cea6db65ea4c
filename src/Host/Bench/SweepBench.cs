using System.Globalization;
using System.Text;

namespace LlmEngine.Host.Bench;

/// <summary>One point of a sweep: a configuration at a request rate.</summary>
internal sealed record SweepPoint(string Config, double Rate, ServeSummary Summary, KvUtilisation? Kv);

/// <summary>
/// The sweep's reading: at a normalized-latency target, the highest swept rate each configuration
/// sustains (every rate up to it meets the target), and each one's ratio to a baseline. The
/// default target is 3x the lowest mean normalized latency of the sweep (roughly the unloaded
/// latency per token), so it follows the model and machine.
/// </summary>
internal sealed record SweepReading(double Target, bool AutoTarget, IReadOnlyDictionary<string, double> Sustained, string? Baseline)
{
    public const double AutoTargetFactor = 3;

    public static SweepReading Of(IReadOnlyList<SweepPoint> points, double? target, string? baseline)
    {
        double t = target ?? AutoTargetFactor * points.Where(p => p.Summary.Completed > 0).Select(p => p.Summary.MeanNormalizedLatency).DefaultIfEmpty(0).Min();
        var sustained = new Dictionary<string, double>();
        foreach (var group in points.GroupBy(p => p.Config))
        {
            double best = 0;
            foreach (var p in group.OrderBy(p => p.Rate))
            {
                if (p.Summary.Failed > 0 || p.Summary.Completed == 0 || p.Summary.MeanNormalizedLatency > t) break;
                best = p.Rate;
            }
            sustained[group.Key] = best;
        }
        return new SweepReading(t, target is null, sustained, baseline is not null && sustained.ContainsKey(baseline) ? baseline : null);
    }

    /// <summary>Sustained rate of <paramref name="config"/> over the baseline's; null where the
    /// baseline sustains none of the rates.</summary>
    public double? Ratio(string config) =>
        Baseline is not null && Sustained[Baseline] > 0 ? Sustained[config] / Sustained[Baseline] : null;

    public static string Csv(IReadOnlyList<SweepPoint> points)
    {
        var csv = new StringBuilder("config,request_rate,completed,failed,duration,request_throughput,output_throughput,mean_ttft_ms,mean_tpot_ms,mean_itl_ms,mean_e2el_ms,p99_e2el_ms,mean_normalized_latency,kv_token_share,kv_allocated_unused_share,kv_free_share,num_preemptions\n");
        foreach (var p in points)
        {
            var s = p.Summary;
            var values = new object?[]
            {
                p.Config, p.Rate, s.Completed, s.Failed, s.Duration, s.RequestThroughput, s.OutputThroughput, s.TtftMs.Mean, s.TpotMs.Mean, s.ItlMs.Mean,
                s.E2elMs.Mean, s.E2elMs.P99, s.MeanNormalizedLatency, p.Kv?.TokenShare, p.Kv?.UnusedShare, p.Kv?.FreeShare, p.Kv?.Preemptions,
            };
            csv.AppendLine(string.Join(",", values.Select(v => v switch
            {
                double d => d.ToString("G6", CultureInfo.InvariantCulture),
                null => "",
                _ => Convert.ToString(v, CultureInfo.InvariantCulture),
            })));
        }
        return csv.ToString();
    }
}
