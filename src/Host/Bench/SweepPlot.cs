using ScottPlot;

namespace LlmEngine.Host.Bench;

/// <summary>The PagedAttention paper's figure 12 for this engine: mean normalized latency
/// (s/token) against request rate, one line per configuration, with the target as a dashed line.
/// Latencies far above the target are cut off, as in the paper, so the knees stay readable.</summary>
internal static class SweepPlot
{
    public static void Save(string path, IReadOnlyList<SweepPoint> points, SweepReading reading, string title)
    {
        var plot = new Plot();
        foreach (var group in points.GroupBy(p => p.Config))
        {
            var ordered = group.OrderBy(p => p.Rate).ToList();
            var line = plot.Add.Scatter(ordered.Select(p => p.Rate).ToArray(), ordered.Select(p => p.Summary.MeanNormalizedLatency).ToArray());
            line.LegendText = group.Key;
            line.MarkerSize = 8;
            line.LineWidth = 2;
        }
        var target = plot.Add.HorizontalLine(reading.Target);
        target.LinePattern = LinePattern.Dashed;
        target.LegendText = $"target {reading.Target:G3} s/token";
        plot.Title(title);
        plot.XLabel("Request rate (req/s)");
        plot.YLabel("Normalized latency (s/token)");
        plot.ShowLegend(Alignment.UpperLeft);
        double top = points.Select(p => p.Summary.MeanNormalizedLatency).DefaultIfEmpty(reading.Target).Max();
        plot.Axes.SetLimitsY(0, Math.Min(Math.Max(top * 1.1, reading.Target * 1.3), reading.Target * 4));
        plot.Axes.SetLimitsX(0, points.Select(p => p.Rate).DefaultIfEmpty(1).Max() * 1.05);
        plot.SavePng(path, 900, 560);
    }
}
