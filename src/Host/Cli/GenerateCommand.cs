using System.CommandLine;
using System.Text.Json;
using LlmEngine.Actors.Engine;
using LlmEngine.Kernels.Sampling;

namespace LlmEngine.Host.Cli;

/// <summary>
/// <c>generate</c>: runs prompts (one <c>--prompt</c>, or a JSONL <c>--input</c> file) through the
/// engine, all submitted together and batched, and writes one JSON line per input in input order.
/// A bad line is reported with its number and skipped; the others still run; the exit code is then 1.
/// </summary>
internal static class GenerateCommand
{
    public static Command Create()
    {
        var engine = new EngineOptionSet();
        var prompt = new Option<string?>("--prompt") { Description = "A single prompt" };
        var input = new Option<FileInfo?>("--input") { Description = "JSONL file, one object per line with \"prompt\" or \"prompt_token_ids\" and optional sampling fields" };
        var output = new Option<FileInfo?>("--output") { Description = "Where to write the JSONL results (default: standard output)" };
        var stats = new Option<FileInfo?>("--stats") { Description = "Write engine statistics (JSON) to this file" };
        var maxTokens = new Option<int>("--max-tokens") { Description = "Tokens to generate per prompt", DefaultValueFactory = _ => 16 };
        var temperature = new Option<double>("--temperature") { Description = "0 is greedy", DefaultValueFactory = _ => 1.0 };
        var topP = new Option<double>("--top-p") { DefaultValueFactory = _ => 1.0 };
        var topK = new Option<int>("--top-k") { Description = "0 or -1: all tokens" };
        var seed = new Option<long?>("--seed") { Description = "Seed of each request's sampling" };
        var command = new Command("generate", "Generate text for prompts through the engine");
        foreach (var o in new Option[] { prompt, input, output, stats, maxTokens, temperature, topP, topK, seed }) command.Options.Add(o);
        engine.AddTo(command);
        command.SetAction(async (result, cancel) =>
        {
            var defaults = new SamplingParameters
            {
                MaxTokens = result.GetValue(maxTokens),
                Temperature = result.GetValue(temperature),
                TopP = result.GetValue(topP),
                TopK = result.GetValue(topK),
                Seed = result.GetValue(seed),
            };
            return await Run(engine.Bind(result), result.GetValue(prompt), result.GetValue(input), result.GetValue(output), result.GetValue(stats), defaults, cancel);
        });
        return command;
    }

    private static async Task<int> Run(EngineOptions options, string? prompt, FileInfo? input, FileInfo? output, FileInfo? stats, SamplingParameters defaults, CancellationToken cancel)
    {
        if ((prompt is null) == (input is null)) return CliErrors.Fail("give exactly one of --prompt and --input");
        if (input is not null && !input.Exists) return CliErrors.Fail($"{input.FullName}: file not found");
        var lines = prompt is not null ? [JsonSerializer.Serialize(new { prompt })] : await File.ReadAllLinesAsync(input!.FullName, cancel);

        await using var engine = InferenceEngine.Start(options, log: Console.Error.WriteLine);
        if (engine.IsDefaultModel) Console.Error.WriteLine("note: no --model given; using the embedded default model (random weights: its text is gibberish)");
        int failures = 0;
        var tasks = new List<Task<string>?>();
        for (int i = 0; i < lines.Length; i++)
        {
            if (string.IsNullOrWhiteSpace(lines[i])) { tasks.Add(null); continue; }
            try
            {
                var line = GenerateLine.Parse(lines[i], defaults, engine.Tokenizer);
                var request = new GenerationRequest($"gen-{i}", line.PromptTokenIds, line.Sampling, line.Prompt);
                engine.Validate(request);
                tasks.Add(GenerateOutput.RunAsync(engine, request, cancel));
            }
            catch (Exception e) when (e is FormatException or JsonException or ArgumentException or InvalidOperationException)
            {
                Console.Error.WriteLine($"line {i + 1}: {e.Message}");
                failures++;
                tasks.Add(null);
            }
        }
        var writer = output is null ? Console.Out : new StreamWriter(output.FullName);
        foreach (var task in tasks)
        {
            if (task is null) continue;
            await writer.WriteLineAsync(await task);
        }
        await writer.FlushAsync(cancel);
        if (output is not null) await writer.DisposeAsync();
        if (stats is not null) await StatsFile.WriteAsync(stats.FullName, await engine.RefreshStatisticsAsync(), engine);
        return failures == 0 ? 0 : 1;
    }
}
