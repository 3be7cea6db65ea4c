using System.CommandLine;
using ScottPlot;

namespace LlmEngine.Host.Bench;

/// <summary><c>bench plot-trace TRACE.json</c>: batch size and KV cache usage over time, from a
/// step trace, as a PNG.</summary>
internal static class PlotTraceCommand
{
    public static Command Create()
    {
        var trace = new Argument<string>("trace") { Description = "A step trace (serve --trace FILE, or POST /trace/stop)" };
        var output = new Option<string?>("--output") { Description = "PNG to write (default: the trace's path with .png)" };
        var command = new Command("plot-trace", "Plot batch size and KV cache usage over time from a step trace");
        command.Arguments.Add(trace);
        command.Options.Add(output);
        command.SetAction(result =>
        {
            var path = result.GetValue(trace)!;
            var png = result.GetValue(output) ?? Path.ChangeExtension(path, ".png");
            var series = TraceSeries.Read(path);
            Save(png, series, Path.GetFileName(path));
            Console.WriteLine($"{png}: {series.Batch.Length} steps over {series.BatchSeconds[^1]:F1} s, mean batch {series.Batch.Average():F1} sequences, " +
                $"peak KV usage {series.KvUsedPercent.DefaultIfEmpty(0).Max():F0}%, {series.Preemptions} preemptions");
            return 0;
        });
        return command;
    }

    public static void Save(string path, TraceSeries series, string title)
    {
        var plot = new Plot();
        var batch = plot.Add.ScatterLine(series.BatchSeconds, series.Batch);
        batch.LegendText = "sequences in the step";
        batch.Axes.YAxis = plot.Axes.Left;
        var kv = plot.Add.ScatterLine(series.KvSeconds, series.KvUsedPercent);
        kv.LegendText = "KV blocks in use (%)";
        kv.Axes.YAxis = plot.Axes.Right;
        plot.Axes.Left.Label.Text = "Batch size (sequences)";
        plot.Axes.Right.Label.Text = "KV cache usage (%)";
        plot.Axes.SetLimitsY(0, 100 * 1.05, plot.Axes.Right);
        plot.Axes.SetLimitsY(0, Math.Max(1, series.Batch.Max()) * 1.1, plot.Axes.Left);
        plot.XLabel("Time (s)");
        plot.Title(title);
        plot.ShowLegend(Alignment.UpperLeft);
        plot.SavePng(path, 1000, 480);
    }
}
