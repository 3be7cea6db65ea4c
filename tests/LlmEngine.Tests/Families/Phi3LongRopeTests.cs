using TorchSharp;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace LlmEngine.Tests.Families;

/// <summary>
/// Phi-3 with longrope scaling (short/long factors switching at 40 tokens, attention factor
/// 1.226). A sequence's factors follow how many tokens it has, as transformers picks them by the
/// longest position of a forward pass over the whole sequence: a prompt of at most 40 tokens uses
/// the short factors, a longer one the long factors at every position, from its first chunk on (the
/// step says each sequence's whole length). A sequence that grows past 40 tokens after its keys
/// were cached with the short factors needs them recomputed, which the engine's scheduler does
/// (Phi3LongRopeEngineTests); this harness does not, so its continuations here stay on one side.
/// </summary>
public class Phi3LongRopeTests(ITestOutputHelper output)
{
    private const string Family = "phi3_longrope";
    public static TheoryData<string> Paths() => [.. AttentionPath.All.Select(p => p.Name)];

    [Theory]
    [MemberData(nameof(Paths))]
    public void LastPositionLogitsOfShortAndLongPromptsMatchTransformers(string path)
    {
        using var temporaries = torch.NewDisposeScope();
        var reference = TinyHfReference.Of(Family);
        using var loaded = TinyHfReference.LoadModel(Family);
        var logits = AttentionPath.Named(path).PromptLogits(loaded.Model, reference.Inputs);
        using var last = stack(logits.Select(l => l[-1]).ToArray());
        foreach (var l in logits) l.Dispose();
        float error = TinyHfReference.MaxAbsError(last, reference.LastLogits);
        output.WriteLine($"{Family} {path}: last-position logits max abs error {error:E2}");
        Assert.True(error <= 1e-4f, $"max abs error {error}");
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void GreedyContinuationsThatStayOnOneSideOfTheSwitchMatchTransformers(string path)
    {
        using var temporaries = torch.NewDisposeScope();
        var reference = TinyHfReference.Of(Family);
        using var loaded = TinyHfReference.LoadModel(Family);
        // Inputs of 1 and 7 tokens stay short with 20 more; the 100-token input is long throughout.
        int[] sides = [0, 1, 3];
        var continuations = AttentionPath.Named(path).Greedy(loaded.Model, sides.Select(i => reference.Inputs[i]).ToArray(), maxTokens: 20);
        for (int k = 0; k < sides.Length; k++) Assert.Equal(reference.Greedy[sides[k]], continuations[k]);
    }
}
