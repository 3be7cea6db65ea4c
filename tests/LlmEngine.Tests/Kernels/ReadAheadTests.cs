using LlmEngine.Kernels.Native;
using LlmEngine.Kernels.Quantization;
using TorchSharp;
using static TorchSharp.torch;

namespace LlmEngine.Tests.Kernels;

/// <summary>
/// The pool's read-ahead (kernels/read_ahead.h, <see cref="NativeKernels.ReadAheadKilobytes"/>): after each
/// decode product the idle workers prefetch the weights learned to come next. It only moves bytes into the
/// caches, so every product keeps its bits; and a weight freed after its place in the learned order was
/// recorded is only prefetched (which never faults), never read. The setting is process-wide: other tests
/// running meanwhile see it change their speed, not their results.
/// </summary>
public class ReadAheadTests
{
    private sealed class Products : IDisposable
    {
        private readonly List<PackedQuantizedWeight> _weights = [];
        private readonly List<PackedDenseWeight> _dense = [];

        public Products(bool includeDense)
        {
            // A decode layer's shapes at a small width, a weight over 2 MiB (its own mapping, unmapped when freed),
            // and packed bfloat16 and float32 weights (the dense GEMM's decode path).
            (GgmlType Type, long N, long K)[] shapes = [(GgmlType.Q4_0, 384, 128), (GgmlType.Q8_0, 128, 128), (GgmlType.Q4_K, 512, 256),
                (GgmlType.Q8_0, 2048, 1024), (GgmlType.Q6_K, 128, 512)];
            int seed = 1;
            foreach (var (type, n, k) in shapes)
            {
                var (blocks, dequantized) = QuantizedLinearTests.RandomWeight(type, n, k, seed++);
                dequantized.Dispose();
                using (blocks)
                    if (PackedQuantizedWeight.TryPack(blocks) is { } packed) _weights.Add(packed);
            }
            if (!includeDense) return;
            foreach (var dtype in new[] { ScalarType.BFloat16, ScalarType.Float32 })
            {
                using var dense = randn(new long[] { 256, 1024 }, generator: new Generator(7)).to(dtype);
                if (PackedDenseWeight.TryPack(dense) is { } packed) _dense.Add(packed);
            }
        }

        public int Count => _weights.Count + _dense.Count;

        /// <summary>One pass over the weights at one row, as a decode step makes: every product's output bits.</summary>
        public List<float[]> Pass()
        {
            var outputs = new List<float[]>();
            foreach (var w in _weights)
            {
                using var x = randn(new long[] { 1, w.RowLength }, generator: new Generator(3));
                using var output = empty(new[] { 1, w.Rows });
                NativeKernels.QuantizedLinear(output, x, w);
                outputs.Add(output.data<float>().ToArray());
            }
            foreach (var w in _dense)
            {
                using var x = randn(new long[] { 1, w.RowLength }, generator: new Generator(5)).to(w.DType);
                using var output = empty(new[] { 1, w.Rows });
                w.Apply(output, x);
                outputs.Add(output.data<float>().ToArray());
            }
            return outputs;
        }

        /// <summary>Frees the weight over 2 MiB (its place in the learned order stays).</summary>
        public void FreeLargest()
        {
            var largest = _weights.MaxBy(w => w.Rows * w.RowLength)!;
            largest.Dispose();
            _weights.Remove(largest);
        }

        public void Dispose()
        {
            foreach (var w in _weights) w.Dispose();
            foreach (var w in _dense) w.Dispose();
        }
    }

    private static void WithReadAhead(long kilobytes, Action body)
    {
        long before = NativeKernels.ReadAheadKilobytes;
        NativeKernels.ReadAheadKilobytes = kilobytes;
        try { body(); }
        finally { NativeKernels.ReadAheadKilobytes = before; }
    }

    private static void AssertSameBits(List<float[]> expected, List<float[]> actual)
    {
        Assert.Equal(expected.Count, actual.Count);
        for (int i = 0; i < expected.Count; i++)
            Assert.Equal(expected[i].Select(BitConverter.SingleToInt32Bits), actual[i].Select(BitConverter.SingleToInt32Bits));
    }

    [Fact]
    public void ReadingAheadChangesNoProductsBits()
    {
        using var temporaries = torch.NewDisposeScope();
        if (!NativeKernels.IsAvailable) return;
        using var products = new Products(includeDense: true);
        if (products.Count == 0) return;
        List<float[]> expected = [];
        WithReadAhead(0, () => expected = products.Pass());
        // Passes after the first run on the learned order; a budget smaller than one weight cuts ranges short.
        foreach (long kilobytes in new long[] { 4096, 16 })
            WithReadAhead(kilobytes, () =>
            {
                for (int pass = 0; pass < 4; pass++) AssertSameBits(expected, products.Pass());
            });
    }

    [Fact]
    public void AFreedWeightInTheLearnedOrderIsOnlyPrefetched()
    {
        using var temporaries = torch.NewDisposeScope();
        if (!NativeKernels.IsAvailable) return;
        using var products = new Products(includeDense: false);
        if (products.Count < 2) return;
        WithReadAhead(8192, () =>
        {
            for (int pass = 0; pass < 3; pass++) products.Pass();
            products.FreeLargest();
            var expected = products.Pass();
            for (int pass = 0; pass < 4; pass++) AssertSameBits(expected, products.Pass());
        });
    }

    [Fact]
    public void TheBudgetReadsBackAsSetAndNeverBelowZero()
    {
        if (!NativeKernels.IsAvailable) return;
        WithReadAhead(1234, () => Assert.Equal(1234, NativeKernels.ReadAheadKilobytes));
        WithReadAhead(-5, () => Assert.Equal(0, NativeKernels.ReadAheadKilobytes));
    }
}
