using System.CommandLine;
using LlmEngine.Actors.Engine;
using LlmEngine.Host.Cli;

namespace LlmEngine.Host.Bench;

/// <summary><c>bench soak</c>: sustained overload against <c>--base-url</c> or an in-process server
/// (<c>--start-server</c>, whose waiting queue is bounded as <c>serve</c> bounds it): completions,
/// 503s, clients that gave up and lost requests per interval, and the blocks leaked at the end.</summary>
internal static class SoakCommand
{
    public static Command Create()
    {
        var engine = new EngineOptionSet();
        var baseUrl = new Option<string?>("--base-url") { Description = "A running server, e.g. http://127.0.0.1:8000" };
        var startServer = new Option<bool>("--start-server") { Description = "Start the engine and server in this process (with the engine options)" };
        var overload = new Option<double>("--overload") { Description = "Clients as a multiple of max-num-seqs (with --start-server)", DefaultValueFactory = _ => 4 };
        var clients = new Option<int?>("--clients") { Description = "Concurrent clients (default: --overload x max-num-seqs; needed with --base-url)" };
        var duration = new Option<double>("--duration") { Description = "Seconds to run", DefaultValueFactory = _ => 600 };
        var patience = new Option<double>("--patience") { Description = "Seconds a client waits for its completion before it gives up", DefaultValueFactory = _ => 60 };
        var interval = new Option<double>("--interval") { Description = "Seconds per reported interval", DefaultValueFactory = _ => 60 };
        var minTokens = new Option<int>("--min-tokens") { Description = "Fewest tokens a request asks for", DefaultValueFactory = _ => 32 };
        var maxTokens = new Option<int>("--max-tokens") { Description = "Most tokens a request asks for", DefaultValueFactory = _ => 256 };
        var seed = new Option<int>("--seed") { Description = "Seed of the requests", DefaultValueFactory = _ => 0 };
        var outputJson = new Option<FileInfo?>("--output-json") { Description = "Write the figures to this file" };
        var command = new Command("soak", "Sustained overload: completions per interval, 503s, lost requests, leaked blocks");
        foreach (var o in new Option[] { baseUrl, startServer, overload, clients, duration, patience, interval, minTokens, maxTokens, seed, outputJson })
            command.Options.Add(o);
        engine.AddTo(command);
        command.SetAction(async (result, cancel) =>
        {
            var url = result.GetValue(baseUrl) is { } text ? ServeBenchCommand.ParseUrl(text) : null;
            bool start = result.GetValue(startServer);
            if ((url is null) == !start) return CliErrors.Fail("give exactly one of --base-url and --start-server");
            var options = engine.Bind(result);
            if (options.MaxWaitingRequests == 0) options.MaxWaitingRequests = EngineOptions.DefaultWaitingPerSeat * options.MaxNumSeqs;
            int? count = result.GetValue(clients) ?? (start ? (int)Math.Ceiling(result.GetValue(overload) * options.MaxNumSeqs) : null);
            if (count is not > 0) return CliErrors.Fail("give --clients (a positive count) with --base-url");
            if (result.GetValue(minTokens) is var low && result.GetValue(maxTokens) is var high && (low < 1 || high < low))
                return CliErrors.Fail("--min-tokens must be at least 1 and at most --max-tokens");
            var settings = new SoakSettings(count.Value, TimeSpan.FromSeconds(result.GetValue(duration)), TimeSpan.FromSeconds(result.GetValue(patience)),
                TimeSpan.FromSeconds(result.GetValue(interval)), low, high, result.GetValue(seed));

            await using var server = start ? await InProcessServer.StartAsync(options, Console.Error.WriteLine) : null;
            var target = server?.BaseAddress ?? url!;
            Console.WriteLine($"soak: {settings.Clients} clients for {settings.Duration.TotalSeconds:0} s against {target} (patience {settings.Patience.TotalSeconds:0} s)");
            Console.WriteLine($"{"end_s",8} {"completed",10} {"per_min",8} {"503",6} {"gave_up",8} {"lost",6}");
            var outcome = await SoakRun.RunAsync(target, settings, () => LeakedBlocks(server), i =>
                Console.WriteLine($"{i.EndSeconds,8:0} {i.Completed,10} {i.Completed * 60 / settings.Interval.TotalSeconds,8:0} {i.Refused,6} {i.GaveUp,8} {i.Lost,6}"), cancel);
            Console.WriteLine($"total: {outcome.Completed} completed, {outcome.Refused} refused (503), {outcome.GaveUp} gave up, {outcome.Lost} lost; " +
                $"leaked blocks: {(outcome.LeakedBlocks?.ToString() ?? "unknown (remote server)")}");
            foreach (var example in outcome.LostExamples.Take(5)) Console.Error.WriteLine($"lost: {example}");
            var json = outcome.ToJson();
            json["clients"] = settings.Clients;
            json["duration_s"] = settings.Duration.TotalSeconds;
            json["patience_s"] = settings.Patience.TotalSeconds;
            if (server is not null) json["engine_options"] = BenchJson.Engine(server.Engine);
            await BenchConsole.WriteJsonAsync(result.GetValue(outputJson), json);
            return outcome.Lost == 0 && outcome.LeakedBlocks is null or 0 ? 0 : 1;
        });
        return command;
    }

    // Once the clients are gone the engine frees what they held within a few steps.
    private static async Task<int?> LeakedBlocks(InProcessServer? server)
    {
        if (server is null) return null;
        var stats = await server.Engine.RefreshStatisticsAsync();
        for (int i = 0; i < 250 && (stats.BlocksFree != stats.BlocksTotal || stats.Running + stats.Waiting > 0); i++)
        {
            await Task.Delay(20);
            stats = await server.Engine.RefreshStatisticsAsync();
        }
        return stats.BlocksTotal - stats.BlocksFree;
    }
}
