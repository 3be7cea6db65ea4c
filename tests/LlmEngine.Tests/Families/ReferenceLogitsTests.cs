using TorchSharp;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace LlmEngine.Tests.Families;

/// <summary>GPT-2, OPT and LLaMA (tiny random models) give transformers' float32 logits within
/// 1e-4 on the dense path and on the paged path, whatever the block size and chunking.</summary>
public class ReferenceLogitsTests(ITestOutputHelper output)
{
    private const float Tolerance = 1e-4f;

    public static TheoryData<string, string> FamiliesAndPaths()
    {
        var data = new TheoryData<string, string>();
        foreach (var family in TinyHfReference.Families)
            foreach (var path in AttentionPath.All) data.Add(family, path.Name);
        return data;
    }

    [Theory]
    [MemberData(nameof(FamiliesAndPaths))]
    public void LastPositionLogitsOfEveryInputMatchTransformers(string family, string path)
    {
        using var temporaries = torch.NewDisposeScope();
        var reference = TinyHfReference.Of(family);
        using var loaded = TinyHfReference.LoadModel(family);
        var logits = AttentionPath.Named(path).PromptLogits(loaded.Model, reference.Inputs);
        using var last = stack(logits.Select(l => l[-1]).ToArray());
        foreach (var l in logits) l.Dispose();
        float error = TinyHfReference.MaxAbsError(last, reference.LastLogits);
        float range = reference.LastLogits.Min(row => row.Max() - row.Min());
        output.WriteLine($"{family} {path}: last-position logits max abs error {error:E2} (narrowest logit range {range:F2}: {error / range:E2} of it)");
        Assert.True(error <= Tolerance, $"max abs error {error}");
    }

    [Theory]
    [MemberData(nameof(FamiliesAndPaths))]
    public void EveryPositionLogitsOfTheSevenTokenInputMatchTransformers(string family, string path)
    {
        using var temporaries = torch.NewDisposeScope();
        var reference = TinyHfReference.Of(family);
        using var loaded = TinyHfReference.LoadModel(family);
        // All three inputs share the batch; only the 7-token one has every position to compare.
        var logits = AttentionPath.Named(path).PromptLogits(loaded.Model, reference.Inputs);
        float error = TinyHfReference.MaxAbsError(logits[TinyHfReference.SevenTokenInput], reference.AllPositionLogitsOfInput1);
        foreach (var l in logits) l.Dispose();
        output.WriteLine($"{family} {path}: all-position logits max abs error {error:E2}");
        Assert.True(error <= Tolerance, $"max abs error {error}");
    }

    [Theory]
    [MemberData(nameof(FamiliesAndPaths))]
    public void GreedyContinuationsOfEveryInputMatchTransformers(string family, string path)
    {
        using var temporaries = torch.NewDisposeScope();
        var reference = TinyHfReference.Of(family);
        using var loaded = TinyHfReference.LoadModel(family);
        var continuations = AttentionPath.Named(path).Greedy(loaded.Model, reference.Inputs, maxTokens: 20);
        for (int i = 0; i < reference.Inputs.Length; i++)
            Assert.Equal(reference.Greedy[i], continuations[i]);
    }
}
