using TorchSharp;
using static TorchSharp.torch;

namespace LlmEngine.Tests.Families;

/// <summary>On inputs not in the reference files (random ids and lengths, several requests in
/// one batch), every family's paged path gives the dense path's logits and greedy tokens.</summary>
public class PagedMatchesDenseTests
{
    public static TheoryData<string, string> FamiliesAndPagedPaths()
    {
        var data = new TheoryData<string, string>();
        foreach (var family in TinyHfReference.Families)
            foreach (var path in AttentionPath.All.Where(p => !p.IsDense)) data.Add(family, path.Name);
        return data;
    }

    private static int[][] RandomPrompts(string family, int vocab)
    {
        var random = new Random(family.Length * 101 + 5);
        return [.. Enumerable.Range(0, 5).Select(i => Enumerable.Range(0, i == 0 ? 1 : random.Next(2, 80)).Select(_ => random.Next(vocab)).ToArray())];
    }

    [Theory]
    [MemberData(nameof(FamiliesAndPagedPaths))]
    public void PagedLogitsEqualDenseLogitsAtEveryPosition(string family, string path)
    {
        using var temporaries = torch.NewDisposeScope();
        using var loaded = TinyHfReference.LoadModel(family);
        var prompts = RandomPrompts(family, loaded.Config.VocabSize);
        var dense = AttentionPath.Dense.PromptLogits(loaded.Model, prompts);
        var paged = AttentionPath.Named(path).PromptLogits(loaded.Model, prompts);
        for (int i = 0; i < prompts.Length; i++)
        {
            float error = (paged[i] - dense[i]).abs().max().item<float>();
            Assert.True(error <= 1e-4f, $"prompt {i} ({prompts[i].Length} tokens): max abs error {error}");
        }
        foreach (var t in dense.Concat(paged)) t.Dispose();
    }

    [Theory]
    [MemberData(nameof(FamiliesAndPagedPaths))]
    public void PagedGreedyTokensEqualDenseGreedyTokens(string family, string path)
    {
        using var temporaries = torch.NewDisposeScope();
        using var loaded = TinyHfReference.LoadModel(family);
        var prompts = RandomPrompts(family, loaded.Config.VocabSize);
        var dense = AttentionPath.Dense.Greedy(loaded.Model, prompts, maxTokens: 24);
        var paged = AttentionPath.Named(path).Greedy(loaded.Model, prompts, maxTokens: 24);
        for (int i = 0; i < prompts.Length; i++) Assert.Equal(dense[i], paged[i]);
    }
}
