using System.CommandLine;
using LlmEngine.Host.Cli;

namespace LlmEngine.Host.Bench;

/// <summary><c>bench fuzz</c>: <see cref="RequestFuzzer"/>'s seeded hostile requests against
/// <c>--base-url</c> or an in-process server; prints the count of each status, the 5xx and the
/// requests left unanswered, and whether a fixed greedy completion answered the same afterwards.</summary>
internal static class FuzzCommand
{
    public static Command Create()
    {
        var engine = new EngineOptionSet();
        var baseUrl = new Option<string?>("--base-url") { Description = "A running server, e.g. http://127.0.0.1:8000" };
        var startServer = new Option<bool>("--start-server") { Description = "Start the engine and server in this process (with the engine options)" };
        var requests = new Option<int>("--requests") { Description = "Requests to send", DefaultValueFactory = _ => 2000 };
        var seed = new Option<int>("--seed") { Description = "Seed of the requests (the same seed sends the same requests)", DefaultValueFactory = _ => 15 };
        var concurrency = new Option<int>("--concurrency") { Description = "Requests in flight at once", DefaultValueFactory = _ => 8 };
        var timeout = new Option<double>("--timeout") { Description = "Seconds after which a request without an answer counts as a hang", DefaultValueFactory = _ => 60 };
        var outputJson = new Option<FileInfo?>("--output-json") { Description = "Write the figures to this file" };
        var noProgress = new Option<bool>("--no-progress") { Description = "No progress bar" };
        var command = new Command("fuzz", "Seeded hostile requests over every endpoint and field: statuses, 5xx, hangs");
        foreach (var o in new Option[] { baseUrl, startServer, requests, seed, concurrency, timeout, outputJson, noProgress }) command.Options.Add(o);
        engine.AddTo(command);
        command.SetAction(async (result, cancel) =>
        {
            var url = result.GetValue(baseUrl) is { } text ? ServeBenchCommand.ParseUrl(text) : null;
            bool start = result.GetValue(startServer);
            if ((url is null) == !start) return CliErrors.Fail("give exactly one of --base-url and --start-server");
            if (result.GetValue(requests) is var count && count < 1) return CliErrors.Fail("--requests must be at least 1");
            if (result.GetValue(concurrency) < 1) return CliErrors.Fail("--concurrency must be at least 1");
            await using var server = start ? await InProcessServer.StartAsync(engine.Bind(result), Console.Error.WriteLine) : null;
            var outcome = await BenchConsole.WithProgress("fuzz", count, !result.GetValue(noProgress), tick =>
                FuzzRun.RunAsync(server?.BaseAddress ?? url!, count, result.GetValue(seed), result.GetValue(concurrency),
                    TimeSpan.FromSeconds(result.GetValue(timeout)), tick, cancel));
            Console.WriteLine($"fuzz: {outcome.Requests} requests (seed {result.GetValue(seed)}) in {outcome.Seconds:0.0} s");
            Console.WriteLine("statuses: " + string.Join(", ", outcome.Statuses.OrderBy(s => s.Key).Select(s => $"{(s.Key == 0 ? "no answer" : s.Key)}: {s.Value}")));
            Console.WriteLine($"5xx: {outcome.ServerErrorCount}, hangs: {outcome.Hangs.Count}, greedy answer unchanged: {(outcome.GreedyUnchanged ? "yes" : "no")}");
            foreach (var error in outcome.ServerErrors.Take(10)) Console.Error.WriteLine($"5xx: {error}");
            foreach (var hang in outcome.Hangs.Take(10)) Console.Error.WriteLine($"hang: {hang}");
            var json = outcome.ToJson();
            json["seed"] = result.GetValue(seed);
            json["concurrency"] = result.GetValue(concurrency);
            if (server is not null) json["engine_options"] = BenchJson.Engine(server.Engine);
            await BenchConsole.WriteJsonAsync(result.GetValue(outputJson), json);
            return outcome.Passed ? 0 : 1;
        });
        return command;
    }
}
