using TorchSharp;

namespace LlmEngine.Tests.Kernels;

/// <summary>Every supported head size x block size x cache dtype x GQA ratio, and every context length scale up to 4096.</summary>
[Trait("Category", "Slow")]
public class NativePagedAttentionSweepTests
{
    public static IEnumerable<object[]> Shapes()
    {
        foreach (int headSize in new[] { 64, 80, 96, 128, 256, 72, 24 })
            foreach (int blockSize in new[] { 1, 5, 8, 16, 32 })
                foreach (var dtype in new[] { torch.ScalarType.Float32, torch.ScalarType.BFloat16, torch.ScalarType.Float16 })
                    foreach (int group in new[] { 1, 2, 4 })
                        yield return [headSize, blockSize, dtype, group];
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void MixedBatchMatchesReference(int headSize, int blockSize, torch.ScalarType dtype, int group)
    {
        using var temporaries = torch.NewDisposeScope();
        using var c = PagedCase.Create(headSize * 1000 + blockSize * 10 + group,
            [(1, 1), (97, 1), (300, 45), (33, 33), (700, 1), (18, 2)], queryHeads: 2 * group, kvHeads: 2,
            headSize: headSize, blockSize: blockSize, dtype: dtype, sharedPrefixBlocks: 0);
        c.WriteWithTorch();
        using var expected = c.Reference();
        using var actual = c.Native();
        Assert.InRange(Compare.RelativeError(actual, expected), 0, Compare.Tolerance(dtype));
    }

    [Theory]
    [InlineData(torch.ScalarType.Float32)]
    [InlineData(torch.ScalarType.BFloat16)]
    [InlineData(torch.ScalarType.Float16)]
    public void EveryContextLengthFrom1To4096(torch.ScalarType dtype)
    {
        using var temporaries = torch.NewDisposeScope();
        var sequences = Enumerable.Range(0, 43).Select(i => (Math.Min(4096, 1 + 97 * i), 1)).Append((4096, 4096 / 64)).ToArray();
        using var c = PagedCase.Create(42, sequences, queryHeads: 4, kvHeads: 2, dtype: dtype);
        c.WriteWithTorch();
        using var expected = c.Reference();
        using var actual = c.Native();
        Assert.InRange(Compare.RelativeError(actual, expected), 0, Compare.Tolerance(dtype));
    }
}
