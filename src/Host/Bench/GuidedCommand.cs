using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using LlmEngine.Host.Cli;
using LlmEngine.Kernels.Models;
using LlmEngine.Kernels.Structured;
using Spectre.Console;

namespace LlmEngine.Host.Bench;

/// <summary>
/// <c>bench guided</c>: what a JSON Schema constraint costs per decode step, as a share of the
/// model's step time at the same batch size (measured as <c>bench batch</c> measures it), plus
/// the schema's compile time. The vocabulary is synthetic with the model's logit count
/// (<see cref="SyntheticVocabulary"/>), so models without a tokenizer (llama-110m) can be measured.
/// </summary>
internal static class GuidedCommand
{
    /// <summary>Nested objects, an enum, arrays of objects, anyOf and a $ref, as OpenAI's strict mode allows.</summary>
    public const string DefaultSchema = """
        {"type": "object", "additionalProperties": false, "required": ["name", "age", "role", "tags", "address", "contact", "friends"],
         "$defs": {"person": {"type": "object", "additionalProperties": false, "required": ["name", "age"],
                              "properties": {"name": {"type": "string"}, "age": {"type": "integer"}}}},
         "properties": {
           "name": {"type": "string"}, "age": {"type": "integer"}, "role": {"enum": ["admin", "user", "guest"]},
           "tags": {"type": "array", "items": {"type": "string"}},
           "address": {"type": "object", "additionalProperties": false, "required": ["street", "city", "zip"],
                       "properties": {"street": {"type": "string"}, "city": {"type": "string"}, "zip": {"type": "string"}}},
           "contact": {"anyOf": [{"type": "string"}, {"type": "object", "additionalProperties": false, "required": ["phone"],
                                 "properties": {"phone": {"type": "string"}}}, {"type": "null"}]},
           "friends": {"type": "array", "items": {"$ref": "#/$defs/person"}},
           "score": {"type": "number"}, "active": {"type": "boolean"}}}
        """;

    public static Command Create()
    {
        var engine = new EngineOptionSet();
        var batchSizes = new Option<string>("--batch-sizes") { Description = "Comma-separated numbers of sequences", DefaultValueFactory = _ => "1,32" };
        var steps = new Option<int>("--steps") { Description = "Constrained steps measured per batch size", DefaultValueFactory = _ => 64 };
        var schema = new Option<FileInfo?>("--schema") { Description = "A JSON Schema file (default: a nested schema with an enum, arrays, anyOf and a $ref)" };
        var inputLength = new Option<int>("--input-len") { Description = "Prompt tokens per sequence of the step-time run", DefaultValueFactory = _ => 32 };
        var outputLength = new Option<int>("--output-len") { Description = "Generated tokens per sequence of the step-time run", DefaultValueFactory = _ => 16 };
        var seed = new Option<int>("--seed") { Description = "Seed of the vocabulary, logits and prompts", DefaultValueFactory = _ => 0 };
        var outputJson = new Option<FileInfo?>("--output-json") { Description = "Write the figures (JSON) to this file" };
        var noProgress = new Option<bool>("--no-progress") { Description = "No progress bar" };
        var command = new Command("guided", "Cost of a JSON Schema constraint per decode step (masks and their application) as a share of step time, and compile time");
        foreach (var o in new Option[] { batchSizes, steps, schema, inputLength, outputLength, seed, outputJson, noProgress }) command.Options.Add(o);
        engine.AddTo(command);
        command.SetAction(async (result, cancel) =>
        {
            var options = engine.Bind(result);
            var sizes = BatchCommand.ParseSizes(result.GetValue(batchSizes)!);
            int stepCount = result.GetValue(steps), input = result.GetValue(inputLength), output = result.GetValue(outputLength), seedValue = result.GetValue(seed);
            if (stepCount < 1) return CliErrors.Fail("--steps must be at least 1", CliErrors.Usage);
            if (input < 1 || output < 2) return CliErrors.Fail("--input-len must be at least 1 and --output-len at least 2", CliErrors.Usage);
            var file = result.GetValue(schema);
            if (file is { Exists: false }) return CliErrors.Fail($"--schema: no file {file.FullName}", CliErrors.Usage);
            var spec = new GuideSpec(GuideKind.JsonSchema, file is null ? DefaultSchema : await File.ReadAllTextAsync(file.FullName, cancel));
            try
            {
                GrammarAutomaton.Compile(spec.ToGrammar()); // refused before minutes of model runs, not after
            }
            catch (Exception e) when (e is GrammarException or JsonException)
            {
                return CliErrors.Fail($"--schema: {e.Message}", CliErrors.Usage);
            }

            var stepTimes = new List<double>();
            ModelConfig config = null!;
            await BenchConsole.WithProgress("generated tokens", sizes.Sum(b => (long)b * output), !result.GetValue(noProgress), async tick =>
            {
                await foreach (var (row, rowConfig) in BatchBench.RunAsync(options, sizes, input, output, seedValue, tick, cancel))
                {
                    config = rowConfig;
                    stepTimes.Add(row.StepMilliseconds);
                }
                return 0;
            });

            var clock = Stopwatch.StartNew();
            var vocabulary = SyntheticVocabulary.Create(config.VocabSize, seedValue);
            double vocabularyMs = clock.Elapsed.TotalMilliseconds;
            var rows = new List<GuidedRow>();
            var compileMs = new List<double>();
            double cachedMs = 0;
            for (int i = 0; i < sizes.Count; i++)
            {
                // A fresh compiler per batch size: each row pays for a new schema's masks alike.
                var compiler = new GuideCompiler(vocabulary);
                clock.Restart();
                var guide = compiler.Compile(spec);
                compileMs.Add(clock.Elapsed.TotalMilliseconds);
                clock.Restart();
                compiler.Compile(spec);
                cachedMs = clock.Elapsed.TotalMilliseconds;
                rows.Add(GuidedBench.Measure(guide, sizes[i], stepCount, stepTimes[i], seedValue + i));
            }

            var table = new Table().Title($"JSON Schema constraint per decode step (vocabulary {vocabulary.Size}, synthetic; compile {compileMs[0]:F1} ms, cached {cachedMs:F3} ms)");
            foreach (var c in new[] { "batch", "step ms", "masks ms", "max masks ms", "sampler extra ms", "constraint ms", "of step" }) table.AddColumn(c);
            foreach (var r in rows)
                table.AddRow(r.BatchSize.ToString(), $"{r.StepMilliseconds:F2}", $"{r.MaskMilliseconds:F3}", $"{r.MaxMaskMilliseconds:F2}",
                    $"{r.SamplerMilliseconds:F3}", $"{r.GuidedMilliseconds:F3}", $"{r.Share:P1}");
            BenchConsole.Out.Write(table);
            await BenchConsole.WriteJsonAsync(result.GetValue(outputJson), new Dictionary<string, object>
            {
                ["vocab_size"] = vocabulary.Size,
                ["vocabulary"] = "synthetic",
                ["vocabulary_ms"] = vocabularyMs,
                ["compile_ms"] = compileMs,
                ["cached_compile_ms"] = cachedMs,
                ["steps"] = stepCount,
                ["rows"] = rows.Select(r => new Dictionary<string, object>
                {
                    ["batch_size"] = r.BatchSize,
                    ["step_ms"] = r.StepMilliseconds,
                    ["mask_ms"] = r.MaskMilliseconds,
                    ["max_mask_ms"] = r.MaxMaskMilliseconds,
                    ["sampler_extra_ms"] = r.SamplerMilliseconds,
                    ["constraint_ms"] = r.GuidedMilliseconds,
                    ["share_of_step"] = r.Share,
                }).ToList(),
                ["engine_options"] = BenchJson.Engine(options),
            });
            return 0;
        });
        return command;
    }
}
