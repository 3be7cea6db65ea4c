using System.Text.Json;
using LlmEngine.Kernels.Models;
using LlmEngine.Kernels.Runtime;
using LlmEngine.Kernels.Sampling;
using LlmEngine.Tests.Loading;
using TorchSharp;

namespace LlmEngine.Tests.Models;

/// <summary>The dense reference path against llama2.c's run.c on the trained stories260K model:
/// prompt ids, every generated id, and the chosen logits within 1e-4.</summary>
public class Stories260KReferenceTests
{
    internal sealed record Row(string Prompt, int[] PromptIds, int[] Generated, float[] Logits);

    internal static IReadOnlyList<Row> Rows { get; } = Load();

    private static List<Row> Load()
    {
        var path = Path.Combine(SharedModels.Root, "..", "reference", "stories260K-greedy.json");
        using var doc = JsonDocument.Parse(File.ReadAllText(path));
        return doc.RootElement.EnumerateArray().Select(r => new Row(
            r.GetProperty("prompt").GetString()!,
            r.GetProperty("prompt_token_ids").EnumerateArray().Select(x => x.GetInt32()).ToArray(),
            r.GetProperty("generated_token_ids").EnumerateArray().Select(x => x.GetInt32()).ToArray(),
            r.GetProperty("generated_logits").EnumerateArray().Select(x => x.GetSingle()).ToArray())).ToList();
    }

    [Fact]
    public void TokenizerEncodesEveryReferencePrompt()
    {
        using var loaded = ModelFactory.Load(SharedModels.Stories260K, "auto", torch.ScalarType.Float32, torch.CPU);
        foreach (var row in Rows) Assert.Equal(row.PromptIds, loaded.Tokenizer!.Encode(row.Prompt));
    }

    [Fact]
    public void DensePathReproducesRunCTokensAndLogits()
    {
        using var loaded = ModelFactory.Load(SharedModels.Stories260K, "auto", torch.ScalarType.Float32, torch.CPU);
        foreach (var row in Rows)
        {
            var sampling = new SamplingParameters { Temperature = 0, MaxTokens = row.Generated.Length };
            var result = DenseGenerator.Generate(loaded.Model, [row.PromptIds], sampling, loaded.Config.EosTokenIds.ToArray())[0];
            Assert.Equal(row.Generated, result.TokenIds);
            for (int i = 0; i < row.Logits.Length; i++)
                Assert.True(Math.Abs(row.Logits[i] - result.Samples[i].Logit) <= 1e-4,
                    $"'{row.Prompt}' step {i}: logit {result.Samples[i].Logit} vs run.c {row.Logits[i]}");
        }
    }
}
