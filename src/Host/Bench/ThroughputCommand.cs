using System.CommandLine;
using LlmEngine.Actors.Engine;
using LlmEngine.Host.Cli;
using Spectre.Console;

namespace LlmEngine.Host.Bench;

/// <summary><c>bench throughput</c>: offline throughput of the in-process engine over a request
/// set, then the KV-cache utilisation of the run.</summary>
internal static class ThroughputCommand
{
    public static Command Create()
    {
        var engine = new EngineOptionSet();
        var dataset = new DatasetOptionSet(defaultPrompts: 100);
        var outputJson = new Option<FileInfo?>("--output-json") { Description = "Write the results (JSON) to this file" };
        var noProgress = new Option<bool>("--no-progress") { Description = "No progress bar" };
        var command = new Command("throughput", "Offline throughput: all requests submitted at once to the in-process engine");
        dataset.AddTo(command);
        command.Options.Add(outputJson);
        command.Options.Add(noProgress);
        engine.AddTo(command);
        command.SetAction(async (result, cancel) =>
        {
            var options = engine.Bind(result);
            var spec = dataset.Bind(result);
            await using var running = InferenceEngine.Start(options, log: Console.Error.WriteLine);
            var requests = BenchDataset.Generate(spec, running.ModelConfig.VocabSize, DatasetOptionSet.ContextOf(running));
            var run = await BenchConsole.WithProgress("generated tokens", requests.Sum(r => (long)r.OutputLength), !result.GetValue(noProgress),
                done => ThroughputBench.RunAsync(running, requests, done, cancel));
            var statistics = await running.RefreshStatisticsAsync();
            var kv = KvUtilisation.From(statistics, options);
            Print(run, requests, kv, running);
            var json = run.ToJson();
            json["dataset"] = DatasetOptionSet.Describe(spec);
            json["kv_cache"] = kv.ToJson();
            json["num_steps"] = statistics.NumSteps;
            json["peak_running"] = statistics.PeakRunning;
            json["engine_options"] = BenchJson.Engine(running);
            await BenchConsole.WriteJsonAsync(result.GetValue(outputJson), json);
            return 0;
        });
        return command;
    }

    private static void Print(ThroughputResult run, IReadOnlyList<BenchRequest> requests, KvUtilisation kv, InferenceEngine engine)
    {
        var console = BenchConsole.Out;
        var table = new Table().Title("Throughput").AddColumns("", "value").HideHeaders();
        table.AddRow("Model", Markup.Escape(engine.ModelDescription));
        table.AddRow("Requests", $"{run.NumRequests} (mean prompt {requests.Average(r => r.PromptLength):F1}, output {requests.Average(r => r.OutputLength):F1} tokens)");
        table.AddRow("Elapsed (s)", $"{run.ElapsedTime:F2}");
        table.AddRow("Requests/s", $"{run.RequestsPerSecond:F2}");
        table.AddRow("Total tokens/s", $"{run.TokensPerSecond:F1}");
        table.AddRow("Output tokens/s", $"{run.OutputTokensPerSecond:F1}");
        console.Write(table);
        kv.Render(console);
    }
}
