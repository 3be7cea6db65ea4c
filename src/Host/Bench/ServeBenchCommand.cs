using System.CommandLine;
using Spectre.Console;
using LlmEngine.Host.Cli;

namespace LlmEngine.Host.Bench;

/// <summary><c>bench serve</c>: the online benchmark over HTTP, against <c>--base-url</c> or an
/// in-process server (<c>--start-server</c> with the engine options).</summary>
internal static class ServeBenchCommand
{
    public static Command Create()
    {
        var engine = new EngineOptionSet();
        var dataset = new DatasetOptionSet(defaultPrompts: 100);
        var settings = new ServeOptionSet();
        var baseUrl = new Option<string?>("--base-url") { Description = "A running server, e.g. http://127.0.0.1:8000" };
        var startServer = new Option<bool>("--start-server") { Description = "Start the engine and server in this process (with the engine options)" };
        var vocabSize = new Option<int?>("--vocab-size") { Description = $"Draw token ids below this (default: the in-process model's vocabulary; {ServeRun.SafeVocabulary} for --base-url)" };
        var outputJson = new Option<FileInfo?>("--output-json") { Description = "Write the results (vLLM's keys) to this file" };
        var noProgress = new Option<bool>("--no-progress") { Description = "No progress bar" };
        var metricsUrls = new Option<string[]>("--metrics-url")
        {
            Description = "Servers whose prefix-cache counters (/metrics) make the hit rate (default: the target); give every engine of a cluster",
            AllowMultipleArgumentsPerToken = true,
        };
        var command = new Command("serve", "Online serving benchmark: Poisson/Gamma arrivals, streamed completions over HTTP");
        foreach (var o in new Option[] { baseUrl, startServer, vocabSize, outputJson, noProgress, metricsUrls }) command.Options.Add(o);
        dataset.AddTo(command);
        settings.AddTo(command);
        engine.AddTo(command);
        command.SetAction(async (result, cancel) =>
        {
            var url = result.GetValue(baseUrl) is { } text ? ParseUrl(text) : null;
            bool start = result.GetValue(startServer);
            if ((url is null) == !start) return CliErrors.Fail("give exactly one of --base-url and --start-server");
            var spec = dataset.Bind(result);
            var serve = settings.Bind(result, spec.Seed);
            var options = engine.Bind(result);
            await using var server = start ? await InProcessServer.StartAsync(options, Console.Error.WriteLine) : null;
            var engines = (result.GetValue(metricsUrls) ?? []).Select(ParseUrl).ToList();
            var outcome = await ServeRun.RunAsync(server?.BaseAddress ?? url!, spec, serve, server?.Engine, result.GetValue(vocabSize), !result.GetValue(noProgress), cancel, engines);
            ServeRun.Print(outcome.Summary, serve, BenchConsole.Out);
            BenchConsole.Out.WriteLine($"{"Prefix cache hit rate (%):",-40}{outcome.PrefixCache.HitRate * 100,12:F2}");
            outcome.Kv?.Render(BenchConsole.Out);
            foreach (var error in outcome.Records.Where(r => !r.Success).Select(r => r.Error).Distinct().Take(5))
                Console.Error.WriteLine($"failed: {error}");
            var json = outcome.Summary.ToJson();
            json["request_rate"] = ArrivalProcess.Format(serve.RequestRate);
            json["burstiness"] = serve.Burstiness;
            json["max_concurrency"] = (object?)serve.MaxConcurrency ?? "none";
            json["num_prompts"] = spec.NumPrompts;
            json["dataset"] = DatasetOptionSet.Describe(spec);
            json["prefix_cache_queries"] = outcome.PrefixCache.Queries;
            json["prefix_cache_hits"] = outcome.PrefixCache.Hits;
            json["prefix_cache_hit_rate"] = outcome.PrefixCache.HitRate;
            if (outcome.Kv is not null) json["kv_cache"] = outcome.Kv.ToJson();
            if (server is not null) json["engine_options"] = BenchJson.Engine(server.Engine);
            await BenchConsole.WriteJsonAsync(result.GetValue(outputJson), json);
            return outcome.Summary.Failed == 0 ? 0 : 1;
        });
        return command;
    }

    /// <summary>An absolute http(s) URL, with a trailing slash so that "v1/..." resolves under its path.</summary>
    public static Uri ParseUrl(string text) =>
        Uri.TryCreate(text.EndsWith('/') ? text : text + "/", UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https"
            ? uri : throw new ArgumentException($"--base-url '{text}' is not an http(s) URL");
}

/// <summary>The arrival options of serve and sweep.</summary>
internal sealed class ServeOptionSet
{
    public Option<double> RequestRate { get; } = new("--request-rate")
    {
        Description = "Requests per second (Poisson/Gamma arrivals); inf sends all at once",
        DefaultValueFactory = _ => double.PositiveInfinity,
        CustomParser = r => r.Tokens.Count == 0 ? double.PositiveInfinity : ArrivalProcess.ParseRate(r.Tokens[0].Value),
    };
    public Option<double> Burstiness { get; } = new("--burstiness") { Description = "Gamma shape of the gaps: 1 is Poisson, < 1 burstier, > 1 more regular", DefaultValueFactory = _ => 1.0 };
    public Option<int?> MaxConcurrency { get; } = new("--max-concurrency") { Description = "Most requests in flight (default: no limit)" };
    public Option<bool> NoLogprobs { get; } = new("--no-logprobs") { Description = "Do not ask for logprobs: 0 (then tokens with empty text are not seen as chunks)" };

    public void AddTo(Command command, bool withRate = true)
    {
        if (withRate) command.Options.Add(RequestRate);
        foreach (var o in new Option[] { Burstiness, MaxConcurrency, NoLogprobs }) command.Options.Add(o);
    }

    public ServeSettings Bind(ParseResult result, int seed, double? rate = null) => new(
        rate ?? result.GetValue(RequestRate), result.GetValue(Burstiness), result.GetValue(MaxConcurrency), seed, !result.GetValue(NoLogprobs));
}
