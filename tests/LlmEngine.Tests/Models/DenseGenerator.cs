using LlmEngine.Kernels.Attention;
using LlmEngine.Kernels.Models;
using LlmEngine.Kernels.Runtime;
using LlmEngine.Kernels.Sampling;
using LlmEngine.Scheduling;

namespace LlmEngine.Tests.Models;

/// <summary>A generated continuation on the dense reference path.</summary>
public sealed record DenseGeneration(int[] TokenIds, SampledToken[] Samples, string FinishReason);

/// <summary>
/// Generation on the dense reference path, with no paging and no scheduler: every prompt is
/// prefilled in one step, then each step decodes one token for every unfinished sequence.
/// Tests compare the paged engine against it.
/// </summary>
public static class DenseGenerator
{
    public static DenseGeneration[] Generate(ICausalLanguageModel model, IReadOnlyList<int[]> prompts, SamplingParameters sampling, IReadOnlyCollection<int> eosTokenIds)
    {
        var config = model.Config;
        using var attention = new DenseAttention(config.NumLayers, config.KvHeads, config.HeadSize, config.MaxPositions, model.DType, model.Device);
        var runner = new ModelRunner(model, attention);
        var outputs = prompts.Select(_ => new List<SampledToken>()).ToArray();
        var finish = new string?[prompts.Count];
        var randoms = prompts.Select(_ => SequenceRandom.FromSeed(sampling.Seed)).ToArray();
        var active = Enumerable.Range(0, prompts.Count).ToList();
        while (active.Count > 0)
        {
            var feeds = active.Select(i => outputs[i].Count == 0 ? prompts[i] : [outputs[i][^1].TokenId]).ToArray();
            var starts = new int[active.Count + 1];
            for (int k = 0; k < active.Count; k++) starts[k + 1] = starts[k] + feeds[k].Length;
            var contexts = active.Select(i => prompts[i].Length + outputs[i].Count).ToArray();
            var positions = active.SelectMany((i, k) => Enumerable.Range(contexts[k] - feeds[k].Length, feeds[k].Length)).ToArray();
            var rows = active.Select((i, k) => new SamplingRow(sampling, prompts[i], outputs[i].Select(s => s.TokenId).ToList(), randoms[i].NextUniform(),
                outputs[i].Count < sampling.MinTokens ? eosTokenIds.ToList() : [], sampling.Logprobs ?? 0)).ToArray();
            var step = new ModelStep(active.ToArray(), feeds.SelectMany(f => f).ToArray(), positions, starts, contexts, [], [],
                starts.Skip(1).Select(s => s - 1).ToArray(), Enumerable.Range(0, active.Count).ToArray(), rows, CacheOperationsPlan.None);
            var sampled = runner.Execute(step).All();
            for (int k = 0; k < active.Count; k++)
            {
                int i = active[k];
                outputs[i].Add(sampled[k]);
                bool eos = !sampling.IgnoreEos && eosTokenIds.Contains(sampled[k].TokenId);
                if (eos || sampling.StopTokenIds.Contains(sampled[k].TokenId)) finish[i] = "stop";
                else if (outputs[i].Count >= sampling.MaxTokens || contexts[k] + 1 >= config.MaxPositions) finish[i] = "length";
            }
            active.RemoveAll(i => finish[i] is not null);
            foreach (var i in Enumerable.Range(0, prompts.Count).Where(i => finish[i] is not null)) attention.Release(i);
        }
        return Enumerable.Range(0, prompts.Count)
            .Select(i => new DenseGeneration(outputs[i].Select(s => s.TokenId).ToArray(), outputs[i].ToArray(), finish[i]!)).ToArray();
    }
}
