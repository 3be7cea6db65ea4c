using System.Diagnostics;
using LlmEngine.Actors.Observing;

namespace LlmEngine.Host.Dashboard;

/// <summary>
/// Per-second figures over the last <see cref="Seconds"/> seconds, from step records: tokens/s
/// (prompt and generated), KV usage, queue lengths, preemptions, and where step time went
/// (scheduling, model, sampling). Not thread-safe: the hub's loop owns it.
/// </summary>
internal sealed class StepCharts
{
    public const int Seconds = 300;
    private readonly Queue<Bucket> _buckets = new();

    private sealed class Bucket(long second)
    {
        public long Second = second;
        public double Prompt, Generated, Preemptions, Schedule, Model, Sample, Kv, Running, Waiting, Swapped;
    }

    public void Add(StepRecord step)
    {
        var b = At(step.Timestamp / Stopwatch.Frequency);
        b.Prompt += step.Batch.Sum(r => r.PrefillTokens);
        b.Generated += step.GeneratedTokens;
        b.Preemptions += step.Preempted.Count + step.SwappedOut.Count;
        double total = (double)(step.Timestamp - step.Start) / Stopwatch.Frequency;
        b.Sample += step.SampleSeconds;
        b.Model += step.ComputeSeconds - step.SampleSeconds;
        b.Schedule += Math.Max(0, total - step.ComputeSeconds);
        b.Kv = step.Usage.Total == 0 ? 0 : 1.0 - (double)step.Usage.Free / step.Usage.Total;
        (b.Running, b.Waiting, b.Swapped) = (step.Running, step.Waiting, step.Swapped);
    }

    /// <summary>The series, oldest first, one point per second up to <paramref name="now"/> (a
    /// second with no step repeats the last gauges and shows no tokens).</summary>
    public ChartSeries Series(long now)
    {
        At(now / Stopwatch.Frequency);
        var list = _buckets.ToList();
        return new ChartSeries(
            list.Select(b => b.Second - now / Stopwatch.Frequency).ToArray(),
            list.Select(b => b.Prompt).ToArray(), list.Select(b => b.Generated).ToArray(),
            list.Select(b => Math.Round(b.Kv * 100, 1)).ToArray(),
            list.Select(b => b.Running).ToArray(), list.Select(b => b.Waiting).ToArray(), list.Select(b => b.Swapped).ToArray(),
            list.Select(b => b.Preemptions).ToArray(),
            list.Select(b => Math.Round(b.Schedule * 1000, 2)).ToArray(), list.Select(b => Math.Round(b.Model * 1000, 2)).ToArray(),
            list.Select(b => Math.Round(b.Sample * 1000, 2)).ToArray());
    }

    private Bucket At(long second)
    {
        var last = _buckets.LastOrDefault();
        if (last is not null && last.Second >= second) return last;
        while (last is not null && last.Second < second - 1 && second - last.Second < Seconds)
            _buckets.Enqueue(last = Gauges(last, last.Second + 1));
        _buckets.Enqueue(last = last is null ? new Bucket(second) : Gauges(last, second));
        while (_buckets.Count > Seconds) _buckets.Dequeue();
        return last;
    }

    private static Bucket Gauges(Bucket from, long second) =>
        new(second) { Kv = from.Kv, Running = from.Running, Waiting = from.Waiting, Swapped = from.Swapped };
}

/// <summary>Per-second series; <see cref="T"/> is seconds relative to now (0 = this second).
/// Tokens are per second, times are milliseconds per second of wall time spent in each part.</summary>
internal sealed record ChartSeries(long[] T, double[] PromptTokens, double[] GenerationTokens, double[] KvUsagePercent,
    double[] Running, double[] Waiting, double[] Swapped, double[] Preemptions, double[] ScheduleMs, double[] ModelMs, double[] SampleMs);
