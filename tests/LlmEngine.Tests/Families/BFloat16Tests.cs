using Xunit.Abstractions;
using static TorchSharp.torch;

namespace LlmEngine.Tests.Families;

/// <summary>
/// bfloat16 runs against transformers' float32 reference. bfloat16 keeps 8 significant bits, so
/// logits near 4 come out of the bfloat16 head in steps of 1/32 and differ from float32 by up to
/// ~0.1 here. Greedy tokens agree on 8 of the 9 inputs, including two whose smallest top-2 gap
/// along the continuation is tiny (OPT input 1: 0.0022, LLaMA input 2: 0.0033) but falls where
/// the rounding happens to keep the order. They differ on GPT-2's 1-token input: at its first
/// step the two best float32 logits are 4.1924 (token 433) and 4.1797 (token 347), the reference's
/// smallest gap of 0.0127, and both round to the same bfloat16 value 4.1875; argmax takes the
/// first of equal maxima, 347, and from there the continuation is another sequence.
/// </summary>
public class BFloat16Tests(ITestOutputHelper output)
{
    private static readonly AttentionPath[] Paths = [AttentionPath.Dense, AttentionPath.All[1]];

    /// <summary>(family, input) pairs whose bfloat16 greedy continuation is not float32's; see above.</summary>
    private static readonly (string Family, int Input)[] Ties = [("gpt2", 0)];

    public static TheoryData<string, string> FamiliesAndPaths()
    {
        var data = new TheoryData<string, string>();
        foreach (var family in TinyHfReference.Families)
            foreach (var path in Paths) data.Add(family, path.Name);
        return data;
    }

    [Theory]
    [MemberData(nameof(FamiliesAndPaths))]
    public void GreedyTokensEqualFloat32ExceptWhereTheTopTwoLogitsTieInBFloat16(string family, string path)
    {
        var reference = TinyHfReference.Of(family);
        using var loaded = TinyHfReference.LoadModel(family, ScalarType.BFloat16);
        var continuations = AttentionPath.Named(path).Greedy(loaded.Model, reference.Inputs, maxTokens: 20);
        for (int i = 0; i < reference.Inputs.Length; i++)
        {
            if (Ties.Contains((family, i))) Assert.NotEqual(reference.Greedy[i], continuations[i]);
            else Assert.Equal(reference.Greedy[i], continuations[i]);
        }
    }

    [Fact]
    public void Gpt2OneTokenInputTiesInBFloat16AndTheLowerIdWins()
    {
        var reference = TinyHfReference.Of("gpt2");
        using var f32 = TinyHfReference.LoadModel("gpt2");
        using var bf16 = TinyHfReference.LoadModel("gpt2", ScalarType.BFloat16);
        using var exact = AttentionPath.Dense.PromptLogits(f32.Model, [reference.Inputs[0]])[0][-1];
        using var rounded = AttentionPath.Dense.PromptLogits(bf16.Model, [reference.Inputs[0]])[0][-1];
        float gap = exact[433].item<float>() - exact[347].item<float>();

        Assert.Equal(433, exact.argmax().item<long>());
        Assert.InRange(gap, 0, 1f / 32);
        Assert.Equal(rounded[433].item<float>(), rounded[347].item<float>());
        Assert.Equal(rounded.max().item<float>(), rounded[347].item<float>());
        Assert.Equal(347, AttentionPath.Dense.Greedy(bf16.Model, [reference.Inputs[0]], maxTokens: 1)[0][0]);
    }

    [Theory]
    [MemberData(nameof(FamiliesAndPaths))]
    public void LastPositionLogitsAreWithinBFloat16ErrorOfFloat32(string family, string path)
    {
        var reference = TinyHfReference.Of(family);
        using var loaded = TinyHfReference.LoadModel(family, ScalarType.BFloat16);
        var logits = AttentionPath.Named(path).PromptLogits(loaded.Model, reference.Inputs);
        using var last = stack(logits.Select(l => l[-1]).ToArray());
        foreach (var l in logits) l.Dispose();
        float error = TinyHfReference.MaxAbsError(last, reference.LastLogits);
        output.WriteLine($"{family} {path}: bfloat16 last-position logits max abs error {error:F3}");
        // Measured 0.055 (GPT-2), 0.094 (OPT), 0.115 (LLaMA): a few bfloat16 steps at |logit| ~ 4-8.
        Assert.InRange(error, 0, 0.25f);
    }
}
