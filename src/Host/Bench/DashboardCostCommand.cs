using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using LlmEngine.Actors.Observing;
using LlmEngine.Host.Dashboard;
using LlmEngine.Scheduling.Blocks;
using LlmEngine.Scheduling.Sequences;
using Spectre.Console;

namespace LlmEngine.Host.Bench;

/// <summary>
/// <c>bench dashboard-cost</c>: the work one dashboard frame makes, timed on caches of several
/// sizes held by many sequences that share a prefix: the block manager's copy of its pool (the
/// engine's part, made while the worker runs a step) and the server's frame (cells, request rows,
/// JSON), with the share of one core they take at the dashboard's frame rate.
/// </summary>
internal static class DashboardCostCommand
{
    /// <summary>Core shares are at <see cref="FramesPerSecond"/>: the asked rate, or fewer where the
    /// hub paces a costly frame (<see cref="DashboardHub.CostFactor"/>).</summary>
    public sealed record Row(int Blocks, int Sequences, double MapMicroseconds, double FrameMicroseconds, int FrameBytes, double FramesPerSecond, double EngineCoreShare, double ServerCoreShare);

    public static Command Create()
    {
        var blocks = new Option<string>("--num-blocks") { Description = "Cache sizes in blocks, comma-separated", DefaultValueFactory = _ => "512,16384,262144" };
        var sequences = new Option<int>("--sequences") { Description = "Sequences holding blocks", DefaultValueFactory = _ => 32 };
        var rate = new Option<double>("--frames-per-second") { Description = "Frames a connected page gets per second", DefaultValueFactory = _ => 4 };
        var output = new Option<FileInfo?>("--output-json") { Description = "Write the rows to this file" };
        var command = new Command("dashboard-cost", "Time the work one dashboard frame makes: the engine's block-map copy and the server's frame");
        foreach (var o in new Option[] { blocks, sequences, rate, output }) command.Options.Add(o);
        command.SetAction(async (result, cancel) =>
        {
            int n = result.GetValue(sequences);
            if (n < 1) throw new ArgumentException("--sequences must be at least 1");
            double fps = result.GetValue(rate);
            var rows = result.GetValue(blocks)!.Split(',').Select(s => int.TryParse(s, out int b) && b > 0 ? b
                : throw new ArgumentException($"--num-blocks: '{s}' is not a positive integer")).Select(b => Measure(b, n, fps)).ToList();
            var table = new Table().Title($"One dashboard frame, {n} sequences, {fps} frames/s");
            foreach (var c in new[] { "blocks", "block-map copy (engine) µs", "frame + JSON (server) µs", "frame KiB", "frames/s", "engine core share", "server core share" }) table.AddColumn(c);
            foreach (var r in rows)
                table.AddRow(r.Blocks.ToString(), $"{r.MapMicroseconds:F0}", $"{r.FrameMicroseconds:F0}", $"{r.FrameBytes / 1024.0:F1}", $"{r.FramesPerSecond:F2}", $"{r.EngineCoreShare:P3}", $"{r.ServerCoreShare:P3}");
            BenchConsole.Out.Write(table);
            await BenchConsole.WriteJsonAsync(result.GetValue(output), rows);
            return 0;
        });
        return command;
    }

    private static Row Measure(int numBlocks, int sequences, double fps)
    {
        const int B = 16;
        var cache = new KvCacheManager(numBlocks, B, prefixCaching: true, numSwapBlocks: numBlocks / 8);
        // A 64-token prefix shared by all, then each sequence's own tokens up to ~80% of the cache.
        int own = Math.Max(1, (int)(numBlocks * 0.8 / sequences) - 4) * B;
        var requests = new List<RequestState>();
        for (int s = 1; s <= sequences; s++)
        {
            int[] tokens = [.. Enumerable.Range(1, 64), .. Enumerable.Range(1000 * s, own)];
            int cached = cache.AllocatePrefix(s, tokens);
            if (!cache.TryAllocateSlots(s, tokens, cached, tokens.Length - cached, [])) break;
            requests.Add(new RequestState($"cmpl-{s}", SequenceStatus.Running, tokens.Length, [new SequenceState(s, 0, 0, tokens.Length, false)], DateTime.UtcNow, DateTime.UtcNow, 0));
        }
        var log = new RequestLog();
        var charts = new StepCharts();
        double map = Time(() => cache.Map());
        var snapshot = new EngineSnapshot(Stopwatch.GetTimestamp(), 1, cache.Map(), requests);
        int bytes = 0;
        double frame = Time(() => bytes = JsonSerializer.SerializeToUtf8Bytes(
            DashboardFrame.Of(snapshot, log, charts.Series(Stopwatch.GetTimestamp())), DashboardHub.Json).Length);
        double paced = Math.Min(fps, 1e6 / (frame * DashboardHub.CostFactor));
        return new Row(numBlocks, requests.Count, map, frame, bytes, paced, map * paced / 1e6, frame * paced / 1e6);
    }

    // Median microseconds of a call, over at least 20 calls and a quarter of a second.
    private static double Time(Action action)
    {
        action();
        var samples = new List<double>();
        var total = Stopwatch.StartNew();
        while (samples.Count < 20 || total.ElapsedMilliseconds < 250)
        {
            long start = Stopwatch.GetTimestamp();
            action();
            samples.Add(Stopwatch.GetElapsedTime(start).TotalMicroseconds);
        }
        samples.Sort();
        return samples[samples.Count / 2];
    }
}
