using TorchSharp;
using static TorchSharp.torch;

namespace LlmEngine.Tests.Kernels;

/// <summary>A product that sums each output in one order for every row count gives a row the same
/// bits whatever else is in its batch: a request's logits do not depend on its batch.</summary>
internal static class BatchInvariance
{
    /// <summary>Row 0 of <paramref name="product"/>(x[..rows]) equals product(x[..1]) bit for bit for every row count.</summary>
    public static void AssertFirstRowUnchanged(Tensor x, IEnumerable<int> rowCounts, Func<Tensor, Tensor> product)
    {
        // Every view held in a variable: an unreferenced temporary can be finalized during the call on it.
        using var first = x[..1];
        using var alone = product(first);
        foreach (int rows in rowCounts)
        {
            using var part = x[..rows];
            using var batched = product(part);
            using var row = batched[..1];
            using var equal = row.eq(alone);
            using var same = equal.all();
            Assert.True(same.item<bool>(), $"row 0 differs in a batch of {rows}");
        }
    }

    /// <summary>Every row of <paramref name="product"/>(x[..rows]) equals the same row of product(x) bit for bit
    /// for every row count (a kernel that changes with the row count must not change any row's bits).</summary>
    public static void AssertEveryRowUnchanged(Tensor x, IEnumerable<int> rowCounts, Func<Tensor, Tensor> product)
    {
        using var all = product(x);
        foreach (int rows in rowCounts)
        {
            using var part = x[..rows];
            using var batched = product(part);
            using var expected = all[..rows];
            using var equal = batched.eq(expected);
            using var same = equal.all(1);
            bool[] rowSame = same.data<bool>().ToArray();
            Assert.True(rowSame.All(r => r), $"rows {string.Join(", ", Enumerable.Range(0, rows).Where(i => !rowSame[i]).Take(5))} differ in a batch of {rows}");
        }
    }
}
