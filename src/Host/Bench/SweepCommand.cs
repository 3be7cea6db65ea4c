using System.CommandLine;
using LlmEngine.Host.Cli;
using Spectre.Console;

namespace LlmEngine.Host.Bench;

/// <summary><c>bench sweep</c>: <c>bench serve</c> against a fresh in-process server per
/// configuration and rate, then the figure (PNG), its table (CSV, JSON) and the sustained rates.</summary>
internal static class SweepCommand
{
    public const string DefaultConfigs =
        "paged:--kv-layout paged --batching continuous;orca:--kv-layout reserved --batching continuous;static:--kv-layout reserved --batching static";

    public static Command Create()
    {
        var engine = new EngineOptionSet();
        var dataset = new DatasetOptionSet(defaultPrompts: 50, defaultDataset: "sharegpt-like");
        var settings = new ServeOptionSet();
        var rates = new Option<string>("--request-rates") { Description = "Comma-separated request rates (req/s)", DefaultValueFactory = _ => "1,2,4,8" };
        var configs = new Option<string>("--configs") { Description = "name:engine flags;name:engine flags;... over this command's engine options", DefaultValueFactory = _ => DefaultConfigs };
        var target = new Option<double?>("--latency-target") { Description = $"Normalized latency target (s/token; default {SweepReading.AutoTargetFactor}x the lowest measured)" };
        var baseline = new Option<string?>("--baseline") { Description = "Configuration the others' sustained rates are divided by (default: static, if named)" };
        var output = new Option<string>("--output") { Description = "Path prefix of the outputs: PREFIX.png, PREFIX.csv, PREFIX.json", DefaultValueFactory = _ => "sweep" };
        var noProgress = new Option<bool>("--no-progress") { Description = "No progress bars" };
        var command = new Command("sweep", "Serving benchmark over request rates and engine configurations: normalized latency vs rate (PNG, CSV, JSON)");
        foreach (var o in new Option[] { rates, configs, target, baseline, output, noProgress }) command.Options.Add(o);
        dataset.AddTo(command);
        settings.AddTo(command, withRate: false);
        engine.AddTo(command);
        command.SetAction(async (result, cancel) =>
        {
            var rateList = ParseRates(result.GetValue(rates)!);
            var configList = SweepConfig.ParseAll(result.GetValue(configs)!, engine.Bind(result));
            var spec = dataset.Bind(result);
            var points = new List<SweepPoint>();
            foreach (var config in configList)
                foreach (double rate in rateList)
                {
                    var serve = settings.Bind(result, spec.Seed, rate);
                    await using var server = await InProcessServer.StartAsync(config.Options);
                    var outcome = await ServeRun.RunAsync(server.BaseAddress, spec, serve, server.Engine, null, !result.GetValue(noProgress), cancel);
                    points.Add(new SweepPoint(config.Name, rate, outcome.Summary, outcome.Kv));
                    Console.Error.WriteLine($"{config.Name} at {ArrivalProcess.Format(rate)} req/s: normalized latency {outcome.Summary.MeanNormalizedLatency:F4} s/token, " +
                        $"{outcome.Summary.Completed} completed, {outcome.Summary.Failed} failed");
                }
            string? baselineName = result.GetValue(baseline) ?? (configList.Any(c => c.Name == "static") ? "static" : null);
            var reading = SweepReading.Of(points, result.GetValue(target), baselineName);
            string prefix = result.GetValue(output)!;
            if (Path.GetDirectoryName(Path.GetFullPath(prefix)) is { } dir) Directory.CreateDirectory(dir);
            SweepPlot.Save(prefix + ".png", points, reading, $"{BenchDataset.Name(spec.Kind)}, {spec.NumPrompts} requests per point");
            await File.WriteAllTextAsync(prefix + ".csv", SweepReading.Csv(points), cancel);
            await BenchConsole.WriteJsonAsync(new FileInfo(prefix + ".json"), new Dictionary<string, object?>
            {
                ["points"] = points.Select(p => new Dictionary<string, object?>
                {
                    ["config"] = p.Config,
                    ["request_rate"] = p.Rate,
                    ["result"] = p.Summary.ToJson(),
                    ["kv_cache"] = p.Kv?.ToJson(),
                }).ToList(),
                ["latency_target"] = reading.Target,
                ["latency_target_auto"] = reading.AutoTarget,
                ["sustained_rate"] = reading.Sustained,
                ["baseline"] = reading.Baseline,
                ["ratio_to_baseline"] = configList.ToDictionary(c => c.Name, c => reading.Ratio(c.Name)),
                ["configs"] = configList.ToDictionary(c => c.Name, c => (object)new Dictionary<string, object?> { ["flags"] = c.Flags, ["engine_options"] = BenchJson.Engine(c.Options) }),
                ["dataset"] = DatasetOptionSet.Describe(spec),
            });
            Print(points, reading, configList, prefix);
            return points.All(p => p.Summary.Failed == 0) ? 0 : 1;
        });
        return command;
    }

    public static IReadOnlyList<double> ParseRates(string text)
    {
        var list = text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(ArrivalProcess.ParseRate).ToList();
        if (list.Count == 0) throw new ArgumentException("--request-rates is empty");
        if (list.Any(double.IsInfinity)) throw new ArgumentException("--request-rates: a sweep plots finite rates (use bench serve for inf)");
        return list.Order().ToList();
    }

    private static void Print(IReadOnlyList<SweepPoint> points, SweepReading reading, IReadOnlyList<SweepConfig> configs, string prefix)
    {
        var console = BenchConsole.Out;
        var rates = points.Select(p => p.Rate).Distinct().Order().ToList();
        var table = new Table().Title("Mean normalized latency (s/token) by request rate (req/s)").AddColumn("config");
        foreach (double r in rates) table.AddColumn(ArrivalProcess.Format(r), c => c.RightAligned());
        table.AddColumns("sustained", "vs " + (reading.Baseline ?? "-"));
        foreach (var c in configs)
        {
            var cells = new List<string> { c.Name };
            foreach (double r in rates)
            {
                var p = points.FirstOrDefault(x => x.Config == c.Name && x.Rate == r);
                cells.Add(p is null ? "" : p.Summary.MeanNormalizedLatency <= reading.Target
                    ? $"{p.Summary.MeanNormalizedLatency:F4}" : $"[red]{p.Summary.MeanNormalizedLatency:F4}[/]");
            }
            double s = reading.Sustained[c.Name];
            cells.Add(s > 0 ? ArrivalProcess.Format(s) : $"< {ArrivalProcess.Format(rates[0])}");
            cells.Add(reading.Ratio(c.Name) is { } ratio ? $"{ratio:F2}x" : "n/a");
            table.AddRow(cells.ToArray());
        }
        console.Write(table);
        console.WriteLine($"target: {reading.Target:G4} s/token{(reading.AutoTarget ? $" ({SweepReading.AutoTargetFactor}x the lowest measured)" : "")}; " +
            $"wrote {prefix}.png, {prefix}.csv, {prefix}.json");
    }
}
