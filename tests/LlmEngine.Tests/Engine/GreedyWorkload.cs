using LlmEngine.Kernels.Models;
using LlmEngine.Kernels.Runtime;
using LlmEngine.Kernels.Sampling;
using LlmEngine.Tests.Models;
using TorchSharp;

namespace LlmEngine.Tests.Engine;

/// <summary>A reproducible mix of greedy requests (prompt lengths from 1 up to a maximum, varied
/// max_tokens) with each request's tokens on the dense reference path, run alone.</summary>
internal sealed record GreedyWorkload(string ModelPath, IReadOnlyList<int[]> Prompts, IReadOnlyList<int> MaxTokens, IReadOnlyList<int[]> Expected)
{
    public static GreedyWorkload Create(string modelPath, int count, int maxPrompt, int contextLength, int seed)
    {
        var random = new Random(seed);
        using var loaded = ModelFactory.Load(modelPath, "auto", torch.ScalarType.Float32, torch.CPU);
        int vocab = loaded.Config.VocabSize;
        var prompts = new List<int[]>();
        var maxTokens = new List<int>();
        var expected = new List<int[]>();
        for (int i = 0; i < count; i++)
        {
            int length = i == 0 ? 1 : i == 1 ? maxPrompt : random.Next(1, maxPrompt + 1);
            var prompt = Enumerable.Range(0, length).Select(_ => random.Next(3, vocab)).ToArray();
            int tokens = Math.Min(random.Next(1, 48), contextLength - length);
            var sampling = new SamplingParameters { Temperature = 0, MaxTokens = tokens, IgnoreEos = true };
            prompts.Add(prompt);
            maxTokens.Add(tokens);
            expected.Add(DenseGenerator.Generate(loaded.Model, [prompt], sampling, loaded.Config.EosTokenIds.ToArray())[0].TokenIds);
        }
        return new GreedyWorkload(modelPath, prompts, maxTokens, expected);
    }
}
