using System.CommandLine;
using LlmEngine.Actors.Engine;
using LlmEngine.Host.Cli;
using LlmEngine.Kernels.Models;
using LlmEngine.Kernels.Runtime;
using Spectre.Console;

namespace LlmEngine.Host.Bench;

/// <summary><c>bench batch</c>: llama.cpp's batched-bench, row by row comparable: per batch size,
/// that many sequences started together; prompt and generation throughput reported apart, as
/// shares of this machine's bounds (a roofline: one weight pass per step, or the compute ceiling)
/// and against llama.cpp's row.</summary>
internal static class BatchCommand
{
    public static Command Create()
    {
        var engine = new EngineOptionSet();
        var batchSizes = new Option<string>("--batch-sizes") { Description = "Comma-separated numbers of sequences", DefaultValueFactory = _ => "1,8,32,64" };
        var inputLength = new Option<int>("--input-len") { Description = "Prompt tokens per sequence", DefaultValueFactory = _ => 128 };
        var outputLength = new Option<int>("--output-len") { Description = "Generated tokens per sequence", DefaultValueFactory = _ => 128 };
        var seed = new Option<int>("--seed") { Description = "Seed of the prompts' token ids", DefaultValueFactory = _ => 0 };
        var outputJson = new Option<FileInfo?>("--output-json") { Description = "Write one row per batch size (JSON) to this file" };
        var noProgress = new Option<bool>("--no-progress") { Description = "No progress bar" };
        var profile = new Option<bool>("--profile") { Description = "Also print where a step's time goes (matrix products, attention, norms, rotary, sampling, dispatch and glue, control plane)" };
        var command = new Command("batch", "Batched prompt and generation throughput per batch size (like llama.cpp's batched-bench)");
        foreach (var o in new Option[] { batchSizes, inputLength, outputLength, seed, outputJson, noProgress, profile }) command.Options.Add(o);
        engine.AddTo(command);
        command.SetAction(async (result, cancel) =>
        {
            var options = engine.Bind(result);
            var sizes = ParseSizes(result.GetValue(batchSizes)!);
            int input = result.GetValue(inputLength), output = result.GetValue(outputLength);
            if (input < 1 || output < 2) return CliErrors.Fail("--input-len must be at least 1 and --output-len at least 2");
            string format = WeightFormat(options);
            ForwardProfile.Enabled = result.GetValue(profile);
            ModelConfig config = null!;
            var rows = new List<BatchRow>();
            await BenchConsole.WithProgress("generated tokens", sizes.Sum(b => (long)b * output), !result.GetValue(noProgress), async tick =>
            {
                await foreach (var (row, rowConfig) in BatchBench.RunAsync(options, sizes, input, output, result.GetValue(seed), tick, cancel))
                {
                    config = rowConfig;
                    int b = row.BatchSize;
                    rows.Add(row);
                    Console.Error.WriteLine($"batch {b}: prompt {row.PromptTokensPerSecond:F1} tokens/s, generation {row.GenerationTokensPerSecond:F1} tokens/s");
                    foreach (var rank in row.Ranks)
                        Console.Error.WriteLine($"  rank {rank.Rank}: forward {rank.ForwardSeconds:F2} s, of it all-reduce {rank.CommunicationSeconds:F2} s " +
                            $"({rank.CommunicationSeconds / Math.Max(rank.ForwardSeconds, 1e-9):P0}); {rank.AllReduces} all-reduces, {rank.BytesReduced / Math.Max(rank.AllReduces, 1)} bytes each on average");
                    if (row.Boundaries is { } stages)
                        Console.Error.WriteLine($"  pipeline: {stages.Boundaries} stage hand-overs, {stages.Bytes / Math.Max(stages.Boundaries, 1)} bytes each on average; " +
                            $"beyond the workers' compute the round trips took {stages.WireSeconds * 1000 / Math.Max(row.NumSteps, 1):F2} ms per step");
                }
                return 0;
            });
            Print(rows, config, format);
            if (ForwardProfile.Enabled) BatchProfile.Print(rows);
            ForwardProfile.Enabled = false;
            await BenchConsole.WriteJsonAsync(result.GetValue(outputJson), new Dictionary<string, object>
            {
                ["rows"] = rows.Select(r => Json(r, config, format)).ToList(),
                ["input_len"] = input,
                ["output_len"] = output,
                ["weight_format"] = format,
                ["ceiling_generation_tokens_per_second"] = MachineCeilings.TokensPerSecond(config, format),
                ["ceiling_prompt_tokens_per_second"] = MachineCeilings.PromptTokensPerSecond(config, format),
                ["weight_pass_ms"] = MachineCeilings.WeightPassSeconds(config, format) * 1000,
                ["matmul_parameters"] = MachineCeilings.MatmulParameters(config),
                ["llama_cpp"] = LlamaCppReference.Version,
                ["engine_options"] = BenchJson.Engine(options),
            });
            return 0;
        });
        return command;
    }

    public static IReadOnlyList<int> ParseSizes(string text)
    {
        var sizes = text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(s => int.TryParse(s, out int b) && b > 0 ? b : throw new ArgumentException($"--batch-sizes: '{s}' is not a positive integer")).ToList();
        return sizes.Count > 0 ? sizes : throw new ArgumentException("--batch-sizes is empty");
    }

    /// <summary>The format the weights are stored in: the quantization type, else the dtype.</summary>
    public static string WeightFormat(EngineOptions options) => options.Quantization is null or "none" ? options.DType : options.Quantization;

    private static Dictionary<string, object?> Json(BatchRow r, ModelConfig config, string format)
    {
        var peer = LlamaCppReference.Row(config, format, r.BatchSize);
        var json = new Dictionary<string, object?>
        {
            ["batch_size"] = r.BatchSize,
            ["prompt_tokens_per_second"] = r.PromptTokensPerSecond,
            ["generation_tokens_per_second"] = r.GenerationTokensPerSecond,
            ["prompt_seconds"] = r.PromptSeconds,
            ["prompt_round_seconds"] = r.PromptRoundSeconds,
            ["generation_seconds"] = r.GenerationSeconds,
            ["ms_per_decode_step"] = r.StepMilliseconds,
            ["prompt_share_of_ceiling"] = r.PromptTokensPerSecond / MachineCeilings.PromptTokensPerSecond(config, format),
            ["generation_bound_tokens_per_second"] = MachineCeilings.GenerationBound(config, format, r.BatchSize),
            ["generation_share_of_bound"] = r.GenerationTokensPerSecond / MachineCeilings.GenerationBound(config, format, r.BatchSize),
            ["llama_cpp_prompt_tokens_per_second"] = peer.Prompt,
            ["llama_cpp_generation_tokens_per_second"] = peer.Generation,
            ["num_steps"] = r.NumSteps,
            ["num_preemptions"] = r.Preemptions,
            ["engine_overhead_fraction"] = r.EngineOverhead,
        };
        if (r.Profile is { } p) json["profile"] = BatchProfile.Json(r, p.Prompt, p.Decode);
        if (r.Boundaries is { } b)
            json["pipeline_boundaries"] = new Dictionary<string, object> { ["hand_overs"] = b.Boundaries, ["bytes"] = b.Bytes, ["wire_seconds"] = b.WireSeconds };
        if (r.Ranks.Count > 0)
            json["tensor_parallel_ranks"] = r.Ranks.Select(k => new Dictionary<string, object>
            {
                ["rank"] = k.Rank,
                ["forward_seconds"] = k.ForwardSeconds,
                ["all_reduce_seconds"] = k.CommunicationSeconds,
                ["all_reduces"] = k.AllReduces,
                ["bytes_reduced"] = k.BytesReduced,
            }).ToList();
        return json;
    }

    private static void Print(IReadOnlyList<BatchRow> rows, ModelConfig config, string format)
    {
        double promptCeiling = MachineCeilings.PromptTokensPerSecond(config, format), ceiling = MachineCeilings.TokensPerSecond(config, format);
        double pass = MachineCeilings.WeightPassSeconds(config, format) * 1000;
        var table = new Table().Title($"Batched throughput ({format}; bounds: one weight pass per step {pass:F1} ms at {MachineCeilings.CopyBytesPerSecond / 1e9:F0} GB/s, compute {promptCeiling:F0} prompt / {ceiling:F0} generated tokens/s; peer {LlamaCppReference.Version})")
            .AddColumns("batch", "prompt tok/s", "of ceiling", "vs llama.cpp", "gen tok/s", "of bound", "vs llama.cpp", "ms/step", "overhead", "preempt");
        foreach (var r in rows)
        {
            var peer = LlamaCppReference.Row(config, format, r.BatchSize);
            double bound = MachineCeilings.GenerationBound(config, format, r.BatchSize);
            table.AddRow($"{r.BatchSize}", $"{r.PromptTokensPerSecond:F1}", $"{r.PromptTokensPerSecond / promptCeiling:P0}", Ratio(r.PromptTokensPerSecond, peer.Prompt),
                $"{r.GenerationTokensPerSecond:F1}", $"{r.GenerationTokensPerSecond / bound:P0} ({bound:F0})", Ratio(r.GenerationTokensPerSecond, peer.Generation),
                $"{r.StepMilliseconds:F1}", $"{r.EngineOverhead:P0}", $"{r.Preemptions}");
        }
        BenchConsole.Out.Write(table);
        BenchConsole.Out.WriteLine("prompt tok/s: the median of " + string.Join(", ", rows.Select(r => $"{r.PromptRoundSeconds.Count} prompt round{(r.PromptRoundSeconds.Count > 1 ? "s" : "")} at batch {r.BatchSize}")));
        if (LlamaCppReference.SameShape(config) && rows.Any(r => r.InputLength != 128 || r.OutputLength != 128))
            BenchConsole.Out.MarkupLine("[yellow]note:[/] llama.cpp's rows are for 128 prompt + 128 generated tokens per sequence");
        if (!LlamaCppReference.SameShape(config))
            BenchConsole.Out.WriteLine("llama.cpp was measured on the llama-110m shape only: no comparison for this model");
    }

    private static string Ratio(double ours, double? peer) => peer is { } p ? $"{ours / p:F2}x ({p:F0})" : "n/a";
}
