using LlmEngine.Kernels.Attention;
using LlmEngine.Kernels.Models;
using LlmEngine.Kernels.Runtime;
using LlmEngine.Kernels.Sampling;
using LlmEngine.Tests.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace LlmEngine.Tests.Families;

/// <summary>
/// The two ways a model is run in these tests. Dense: one forward over every prompt, flattened,
/// with <see cref="DenseAttention"/>; generation by <see cref="DenseGenerator"/>. Paged: the
/// engine's way through <see cref="PagedHarness"/> (either paged backend, shuffled block tables,
/// chunked prefill mixed with decodes).
/// </summary>
/// <param name="CacheDType">the paged cache's element type (null: the model's dtype)</param>
internal sealed record AttentionPath(string Name, int BlockSize, int Chunk, string Backend = AttentionBackends.Torch, ScalarType? CacheDType = null)
{
    public static readonly AttentionPath Dense = new("dense", 0, 0);

    public static readonly AttentionPath[] All =
    [
        Dense,
        new("paged, blocks of 4, chunks of 3", 4, 3),
        new("paged, blocks of 16, whole prompts", 16, int.MaxValue),
        new("paged, blocks of 16, one token a step", 16, 1),
        new("native, blocks of 1, chunks of 5", 1, 5, AttentionBackends.Native),
        new("native, blocks of 4, whole prompts", 4, int.MaxValue, AttentionBackends.Native),
        new("native, blocks of 16, chunks of 7", 16, 7, AttentionBackends.Native),
    ];

    public static AttentionPath Named(string name) => All.Single(p => p.Name == name);

    public bool IsDense => BlockSize == 0;

    public override string ToString() => Name;

    /// <summary>Logits at every position of every prompt, one [length, vocab] tensor each.</summary>
    public Tensor[] PromptLogits(ICausalLanguageModel model, IReadOnlyList<int[]> prompts)
    {
        if (!IsDense)
        {
            using var paged = new PagedHarness(model, Backend, BlockSize, prompts.Sum(p => p.Length), seed: BlockSize * 7 + Chunk, CacheDType);
            return paged.PromptLogits(prompts, Chunk);
        }
        var config = model.Config;
        using var attention = new DenseAttention(config.NumLayers, config.KvHeads, config.HeadSize, config.MaxPositions, model.DType, model.Device);
        var starts = new int[prompts.Count + 1];
        for (int i = 0; i < prompts.Count; i++) starts[i + 1] = starts[i] + prompts[i].Length;
        using var batch = new AttentionBatch(Enumerable.Range(0, prompts.Count).ToArray(), starts, prompts.Select(p => p.Length).ToArray(), [], []);
        using var noGrad = no_grad();
        using var tokens = tensor(prompts.SelectMany(p => p).Select(t => (long)t).ToArray());
        using var positions = tensor(prompts.SelectMany(p => Enumerable.Range(0, p.Length)).Select(t => (long)t).ToArray());
        using var rows = arange(starts[^1], dtype: int64);
        using var logits = model.Forward(tokens, positions, batch, attention, rows);
        return prompts.Select((p, i) => logits[starts[i]..starts[i + 1]].clone()).ToArray();
    }

    /// <summary>Greedy continuations of every prompt, EOS ignored.</summary>
    public int[][] Greedy(ICausalLanguageModel model, IReadOnlyList<int[]> prompts, int maxTokens)
    {
        if (!IsDense)
        {
            using var paged = new PagedHarness(model, Backend, BlockSize, prompts.Sum(p => p.Length + maxTokens), seed: BlockSize * 13 + Chunk, CacheDType);
            return paged.Greedy(prompts, maxTokens, Chunk);
        }
        var sampling = new SamplingParameters { Temperature = 0, MaxTokens = maxTokens, IgnoreEos = true };
        return DenseGenerator.Generate(model, prompts, sampling, model.Config.EosTokenIds.ToArray()).Select(g => g.TokenIds).ToArray();
    }
}
