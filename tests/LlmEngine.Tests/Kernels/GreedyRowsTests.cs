using LlmEngine.Kernels.Native;
using LlmEngine.Kernels.Sampling;
using TorchSharp;
using static TorchSharp.torch;

namespace LlmEngine.Tests.Kernels;

/// <summary>Greedy sampling's native reductions (each row's first maximum and log-probability) against
/// the managed loops they replace, on the AVX-512 kernel and the portable one: the same ids, the same
/// rows left to the general sampler (a NaN, no finite maximum), log-probabilities within float32's
/// rounding of a 32K-term sum.</summary>
[Collection(NativeIsaCollection.Name)]
public class GreedyRowsTests
{
    public static TheoryData<int, int> Shapes() => new() { { 1, 32000 }, { 2, 7 }, { 33, 517 }, { 4, 16 }, { 5, 17 }, { 64, 32000 } };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void RandomRowsGiveTheManagedIdsAndLogprobs(int rows, int vocab)
    {
        using var temporaries = torch.NewDisposeScope();
        using var generator = new Generator((ulong)(rows * 7919 + vocab));
        using var logits = randn(new long[] { rows, vocab }, generator: generator).mul(6).contiguous();
        AssertNativeMatchesManaged(logits);
    }

    [Fact]
    public void SpecialRowsGiveTheManagedAnswers()
    {
        using var temporaries = torch.NewDisposeScope();
        const int vocab = 37;
        float[][] rows =
        [
            Row(vocab, -1f, (21, 5f), (33, 5f), (36, 5f)),                   // ties, the first past the vector width
            Row(vocab, -1f, (1, -0f), (2, 0f), (0, -2f)),                    // -0 and +0 are one maximum
            Row(vocab, -1f, (3, float.NegativeInfinity), (30, 4f)),          // -inf entries add nothing
            Row(vocab, -1f, (35, float.NaN)),                                 // a NaN in the tail: the general sampler's
            Row(vocab, -1f, (4, float.NaN)),                                  // a NaN in the vector part
            Row(vocab, -1f, (9, float.PositiveInfinity)),                     // no finite maximum
            Row(vocab, float.NegativeInfinity),                               // all -inf: no finite maximum
            Row(vocab, 80f, (17, 88f)),                                       // large logits: no overflow
        ];
        using var logits = tensor(rows.SelectMany(r => r).ToArray(), new long[] { rows.Length, vocab });
        var (ids, _) = AssertNativeMatchesManaged(logits);
        Assert.Equal(new[] { 21, 1, 30, -1, -1, -1, -1, 17 }, ids);
    }

    private static float[] Row(int vocab, float fill, params (int At, float Value)[] set)
    {
        var row = Enumerable.Repeat(fill, vocab).ToArray();
        foreach (var (at, value) in set) row[at] = value;
        return row;
    }

    // On each instruction set the CPU has: the native ids equal the managed ones; log-probabilities agree
    // to 2e-6 relative (both sum exp in float32 lanes, in different orders, and exp differs by an ulp).
    private static (int[] Ids, float[] Logprobs) AssertNativeMatchesManaged(Tensor logits)
    {
        Assert.True(NativeKernels.IsAvailable);
        int rows = (int)logits.size(0), vocab = (int)logits.size(1);
        var (ids, logprobs) = (new int[rows], new float[rows]);
        RowMath.Greedy(RowMath.Values(logits), vocab, ids, logprobs);
        string before = NativeKernels.Isa;
        foreach (string isa in new[] { "avx512", "scalar" })
        {
            if (!NativeKernels.SelectIsa(isa)) continue;  // this CPU lacks it
            try
            {
                var (nativeIds, nativeLogprobs) = (new int[rows], new float[rows]);
                Assert.True(GreedyRows.TryCompute(logits, nativeIds, nativeLogprobs));
                Assert.Equal(ids, nativeIds);
                for (int r = 0; r < rows; r++)
                    if (ids[r] >= 0)
                        Assert.True(Math.Abs(logprobs[r] - nativeLogprobs[r]) <= 2e-6 * Math.Max(1, Math.Abs(logprobs[r])),
                            $"{isa}, row {r}: managed {logprobs[r]}, native {nativeLogprobs[r]}");
            }
            finally
            {
                NativeKernels.SelectIsa(before);
            }
        }
        return (ids, logprobs);
    }
}
