using LlmEngine.Kernels.Attention;
using LlmEngine.Kernels.Cache;
using TorchSharp;
using static TorchSharp.torch;

namespace LlmEngine.Tests.Kernels;

public class NativePagedAttentionTests
{
    private static readonly (int, int)[] Mixed = [(40, 1), (70, 9), (5, 5), (129, 1), (33, 17)];

    internal static double Run(PagedCase c, int partitionSize = 0)
    {
        c.WriteWithTorch();
        using var expected = c.Reference();
        using var actual = c.Native(partitionSize);
        return Compare.RelativeError(actual, expected);
    }

    [Fact]
    public void DecodeMatchesCausalReference()
    {
        using var temporaries = torch.NewDisposeScope();
        using var c = PagedCase.Create(1, [(37, 1), (1, 1), (300, 1), (16, 1), (17, 1)]);
        Assert.InRange(Run(c), 0, 1e-5);
    }

    [Theory]
    [InlineData(64, ScalarType.Float32)]
    [InlineData(64, ScalarType.BFloat16)]
    [InlineData(80, ScalarType.Float32)]
    [InlineData(80, ScalarType.BFloat16)]
    [InlineData(96, ScalarType.Float32)]
    [InlineData(96, ScalarType.BFloat16)]
    [InlineData(128, ScalarType.Float32)]
    [InlineData(128, ScalarType.BFloat16)]
    [InlineData(256, ScalarType.Float32)]
    [InlineData(256, ScalarType.BFloat16)]
    [InlineData(72, ScalarType.Float32)]   // a multiple of 8 only: the generic path
    [InlineData(40, ScalarType.BFloat16)]
    [InlineData(36, ScalarType.Float32)]   // not even that: the scalar kernel
    [InlineData(64, ScalarType.Float16)]
    [InlineData(80, ScalarType.Float16)]
    [InlineData(128, ScalarType.Float16)]
    [InlineData(256, ScalarType.Float16)]
    [InlineData(40, ScalarType.Float16)]
    [InlineData(36, ScalarType.Float16)]
    [InlineData(64, KvCacheDTypes.Float8E4M3)]
    [InlineData(80, KvCacheDTypes.Float8E4M3)]
    [InlineData(128, KvCacheDTypes.Float8E5M2)]
    [InlineData(256, KvCacheDTypes.Float8E4M3)]
    [InlineData(40, KvCacheDTypes.Float8E4M3)]
    [InlineData(40, KvCacheDTypes.Float8E5M2)]
    [InlineData(36, KvCacheDTypes.Float8E4M3)]
    [InlineData(36, KvCacheDTypes.Float8E5M2)]
    public void EveryHeadSizeMatchesReference(int headSize, ScalarType dtype)
    {
        using var temporaries = torch.NewDisposeScope();
        using var c = PagedCase.Create(headSize, Mixed, headSize: headSize, dtype: dtype);
        Assert.InRange(Run(c), 0, Compare.Tolerance(dtype));
    }

    [Theory]
    [InlineData(1, ScalarType.Float32)]
    [InlineData(5, ScalarType.Float32)]
    [InlineData(8, ScalarType.BFloat16)]
    [InlineData(16, ScalarType.Float32)]
    [InlineData(32, ScalarType.BFloat16)]
    [InlineData(32, ScalarType.Float32)]
    [InlineData(1, ScalarType.Float16)]
    [InlineData(16, ScalarType.Float16)]
    [InlineData(1, KvCacheDTypes.Float8E4M3)]
    [InlineData(5, KvCacheDTypes.Float8E5M2)]
    [InlineData(32, KvCacheDTypes.Float8E4M3)]
    public void EveryBlockSizeMatchesReference(int blockSize, ScalarType dtype)
    {
        using var temporaries = torch.NewDisposeScope();
        using var c = PagedCase.Create(100 + blockSize, Mixed, blockSize: blockSize, dtype: dtype);
        Assert.InRange(Run(c), 0, Compare.Tolerance(dtype));
    }

    [Theory]
    [InlineData(8, 8)]
    [InlineData(8, 4)]
    [InlineData(8, 2)]
    [InlineData(12, 3)]
    public void GroupedQueryHeadsShareTheirKvHead(int queryHeads, int kvHeads)
    {
        using var temporaries = torch.NewDisposeScope();
        using var c = PagedCase.Create(200 + kvHeads, Mixed, queryHeads: queryHeads, kvHeads: kvHeads);
        Assert.InRange(Run(c), 0, 1e-5);
    }

    [Fact]
    public void PromptChunksAndDecodeTokensShareOneBatch()
    {
        using var temporaries = torch.NewDisposeScope();
        using var c = PagedCase.Create(3, [(1, 1), (64, 64), (100, 20), (513, 1), (33, 3), (48, 16)], queryHeads: 8, kvHeads: 2);
        Assert.InRange(Run(c), 0, 1e-5);
    }

    [Theory]
    [InlineData(ScalarType.Float32)]
    [InlineData(ScalarType.BFloat16)]
    [InlineData(KvCacheDTypes.Float8E4M3)]
    public void LongContextsUpTo4096Match(ScalarType dtype)
    {
        using var temporaries = torch.NewDisposeScope();
        using var c = PagedCase.Create(4, [(511, 1), (512, 1), (513, 1), (1025, 1), (4096, 1), (4096, 24), (2000, 7)],
            queryHeads: 4, kvHeads: 2, dtype: dtype);
        Assert.InRange(Run(c), 0, Compare.Tolerance(dtype));
    }

    [Fact]
    public void LargeScoresStayFiniteOverLongContexts()
    {
        using var temporaries = torch.NewDisposeScope();
        using var c = PagedCase.Create(5, [(3000, 1), (2500, 5)], queryHeads: 2, kvHeads: 2);
        // scores with a standard deviation of ~40 (largest well past 88, where e^score overflows float32)
        using var loud = c.Query * 40;
        c.WriteWithTorch();
        using var expected = c.Reference(loud);
        using var actual = c.Native(query: loud);
        Assert.InRange(Compare.RelativeError(actual, expected), 0, 1e-5);
    }

    [Fact]
    public void SplitContextsMatchUnsplit()
    {
        using var temporaries = torch.NewDisposeScope();
        using var c = PagedCase.Create(6, [(700, 1), (300, 40), (65, 65)], queryHeads: 4, kvHeads: 2, blockSize: 8);
        Assert.InRange(Run(c, partitionSize: 16), 0, 1e-5);
        Assert.InRange(Run(c, partitionSize: 100), 0, 1e-5);   // not a multiple of the block size
        Assert.InRange(Run(c, partitionSize: 100000), 0, 1e-5);
    }

    [Fact]
    public void ALoneShortDecodeRunsAsOneItemAndMatches()
    {
        using var temporaries = torch.NewDisposeScope();
        // 10 keys of 3 kv heads: under the bytes worth waking the pool for.
        using var c = PagedCase.Create(13, [(10, 1)], queryHeads: 6, kvHeads: 3);
        Assert.InRange(Run(c), 0, 1e-5);
    }

    [Theory]
    [InlineData(12, 300)]    // split by kv heads alone
    [InlineData(3, 300)]     // an odd number of kv heads: items of 2 and 1
    [InlineData(2, 3000)]    // two kv heads: the context is split too, then reduced
    public void ALoneDecodeSplitOverTheThreadsMatches(int kvHeads, int context)
    {
        using var temporaries = torch.NewDisposeScope();
        using var c = PagedCase.Create(15, [(context, 1)], queryHeads: 12, kvHeads: kvHeads);
        Assert.InRange(Run(c), 0, 1e-5);
    }

    [Theory]
    [InlineData(ScalarType.Float32, 4, 4, 1100)]
    [InlineData(ScalarType.BFloat16, 12, 12, 1100)]
    [InlineData(ScalarType.Float32, 8, 1, 1100)]   // one kv head: a lone long context is split into more partitions
    [InlineData(ScalarType.BFloat16, 8, 2, 1100)]
    [InlineData(ScalarType.Float16, 12, 12, 1100)]
    [InlineData(ScalarType.Float16, 8, 2, 1100)]
    [InlineData(ScalarType.Float16, 12, 12, 192)]  // alone: its kv heads split over the threads, in a batch: one item
    [InlineData(ScalarType.Float32, 12, 3, 192)]
    [InlineData(KvCacheDTypes.Float8E4M3, 12, 12, 1100)]
    [InlineData(KvCacheDTypes.Float8E5M2, 8, 2, 1100)]
    [InlineData(KvCacheDTypes.Float8E4M3, 12, 12, 192)]
    public void ADecodeTokensOutputDoesNotDependOnTheRestOfTheBatch(ScalarType dtype, int queryHeads, int kvHeads, int firstContext)
    {
        using var temporaries = torch.NewDisposeScope();
        // Sequence 0 decodes over firstContext keys (1100: more than one partition) alone and beside 1..39 others.
        var sequences = Enumerable.Range(0, 40).Select(i => (i == 0 ? firstContext : 20 + 37 * i, 1)).ToArray();
        using var c = PagedCase.Create(21 + kvHeads, sequences, queryHeads, kvHeads, dtype: dtype);
        c.WriteWithTorch();
        var attention = new NativePagedAttention(c.Cache);
        BatchInvariance.AssertFirstRowUnchanged(c.Query, [2, 3, 8, 40], query =>
        {
            int n = (int)query.shape[0];  // one decode token per sequence: the first n sequences
            var b = c.Batch;
            using var batch = new AttentionBatch(b.SequenceIds[..n], b.QueryStarts[..(n + 1)], b.ContextLengths[..n],
                b.BlockTables[..n], b.SlotMapping[..n]);
            var output = empty_like(query);
            attention.Attend(0, query, c.Scores, batch, output);
            return output;
        });
    }

    [Fact]
    public void SequencesSharingPrefixBlocksReadThem()
    {
        using var temporaries = torch.NewDisposeScope();
        using var c = PagedCase.Create(7, [(100, 1), (90, 10), (20, 1)], sharedPrefixBlocks: 3);
        Assert.Equal(c.Batch.BlockTables[0][..3], c.Batch.BlockTables[1][..3]);
        Assert.InRange(Run(c), 0, 1e-5);
    }

    [Fact]
    public void StridedQueryAndOutputViewsAreReadAndWrittenInPlace()
    {
        using var temporaries = torch.NewDisposeScope();
        using var c = PagedCase.Create(8, Mixed, queryHeads: 4, kvHeads: 2);
        long tokens = c.Query.shape[0];
        // query as a slice of a fused [tokens, 3 * heads, D] projection, and head-major storage
        using var fused = randn(tokens, 3 * 4, 64);
        using var sliced = fused[.., 4..8];
        using var headMajor = c.Query.permute(1, 0, 2).contiguous().permute(1, 0, 2);
        Assert.False(sliced.is_contiguous());
        Assert.False(headMajor.is_contiguous());
        using var wide = full(tokens, 4, 128, double.NaN);
        using var output = wide[.., .., ..64];  // strided output: only its half of each row may be written
        c.WriteWithTorch();
        foreach (var q in new[] { sliced, headMajor })
        {
            using var expected = c.Reference(q);
            wide.fill_(double.NaN);
            c.Native(query: q, output: output);
            Assert.InRange(Compare.RelativeError(output, expected), 0, 1e-5);
            using var untouched = wide[.., .., 64..].isnan().all();
            Assert.True(untouched.item<bool>());
        }
    }

    [Theory]
    [InlineData(64, ScalarType.BFloat16)]
    [InlineData(80, ScalarType.BFloat16)]   // bfloat16 rows not read paired
    [InlineData(40, ScalarType.BFloat16)]   // the generic head size
    [InlineData(64, ScalarType.Float16)]
    [InlineData(80, ScalarType.Float16)]
    [InlineData(40, ScalarType.Float16)]
    public void Float32QueriesOverA16BitCacheMatchTheReferenceOnTheSameRoundedKeys(int headSize, ScalarType cache)
    {
        using var temporaries = torch.NewDisposeScope();
        // --kv-cache-dtype bfloat16 or float16 under a float32 model: the step's float32 keys and values
        // are rounded into the cache, and the reference reads the same rounded values, so only the
        // summation order differs (float32 accumulation on both sides).
        using var c = PagedCase.Create(14 + headSize, [(40, 1), (70, 9), (129, 1), (1025, 1), (33, 17)], queryHeads: 8, kvHeads: 2,
            headSize: headSize, dtype: cache, queryDType: ScalarType.Float32);
        Assert.InRange(Run(c), 0, 1e-5);
    }

    [Theory]
    [InlineData(64)]
    [InlineData(40)]
    public void AFloat16CacheStaysWithinItsRoundingOfTheFloat32CachesResult(int headSize)
    {
        using var temporaries = torch.NewDisposeScope();
        // The same float32 keys and values (one seed) in a float32, a float16 and a bfloat16 cache, under
        // float32 queries. Rounding moves each float16 element by at most 2^-11 of its size (bfloat16:
        // 2^-8); an output moves by about the error of the values it averages, plus the score errors'
        // effect on the weights (scores here are O(1), so a relative score error of ~2^-11 moves a
        // weight by about as much). Measured: a largest error of 4.3e-4 and 4.5e-4 of the largest output
        // (head sizes 64 and 40), so the bound is 4 * 2^-11. And float16's mean error must be at least 4x
        // below bfloat16's (measured 8.1x and 7.7x: 3 more bits); the largest errors alone are too few
        // to compare (their ratio was 3.7x and 6.1x).
        (int, int)[] sequences = [(40, 1), (70, 9), (129, 1), (1025, 1), (33, 17)];
        (double Largest, double Mean) Error(ScalarType cache)
        {
            using var exact = PagedCase.Create(3 + headSize, sequences, 8, 2, headSize, queryDType: ScalarType.Float32);
            using var rounded = PagedCase.Create(3 + headSize, sequences, 8, 2, headSize, dtype: cache, queryDType: ScalarType.Float32);
            exact.WriteWithTorch();
            rounded.WriteWithTorch();
            using var expected = exact.Reference();
            using var actual = rounded.Native();
            using var difference = actual.sub(expected);
            using var magnitude = difference.abs();
            using var mean = magnitude.mean();
            return (Compare.RelativeError(actual, expected), mean.item<float>());
        }
        var (half, brain) = (Error(ScalarType.Float16), Error(ScalarType.BFloat16));
        Assert.InRange(half.Largest, 1e-7, 4.0 / 2048);
        Assert.True(half.Mean < brain.Mean / 4, $"float16's mean error {half.Mean:E2} is not 4x below bfloat16's {brain.Mean:E2}");
    }

    [Theory]
    [InlineData(ScalarType.Float32)]
    [InlineData(ScalarType.Float16)]   // --dtype bfloat16 with quantized weights: auto gives a float16 cache
    [InlineData(KvCacheDTypes.Float8E4M3)]                 // --dtype bfloat16 --kv-cache-dtype fp8
    public void BFloat16QueriesOverAFloat32OrFloat16Cache(ScalarType cache)
    {
        using var temporaries = torch.NewDisposeScope();
        using var c = PagedCase.Create(9, Mixed, dtype: cache, queryDType: ScalarType.BFloat16);
        Assert.InRange(Run(c), 0, 1e-2);
    }

    [Theory]
    [InlineData(ScalarType.Float32)]
    [InlineData(ScalarType.Float16)]   // write_kv's rounding is torch's .to(float16): the same cache bits
    [InlineData(KvCacheDTypes.Float8E4M3)]                 // and fp8's torch's .to(float8) (after saturation, which these values never reach)
    [InlineData(KvCacheDTypes.Float8E5M2)]
    public void ForwardWritesTheCacheAndMatchesTheTorchBackend(ScalarType cache)
    {
        using var temporaries = torch.NewDisposeScope();
        using var c = PagedCase.Create(10, [(1, 1), (64, 64), (100, 20), (513, 1)], queryHeads: 8, kvHeads: 2, dtype: cache);
        using var torchCache = new PagedKvCache(1, c.Cache.NumBlocks, c.Cache.BlockSize, c.Cache.KvHeads, c.Cache.HeadSize, c.Cache.DType, CPU);
        torchCache.Keys[0].copy_(c.Cache.Keys[0]);
        torchCache.Values[0].copy_(c.Cache.Values[0]);
        using var actual = new NativePagedAttention(c.Cache).Forward(0, c.Query, c.Key, c.Value, c.Scores, c.Batch);
        using var expected = new TorchPagedAttention(torchCache).Forward(0, c.Query, c.Key, c.Value, c.Scores, c.Batch);
        Assert.True(c.Cache.Keys[0].bytes.SequenceEqual(torchCache.Keys[0].bytes), "the keys' bits differ");
        Assert.True(c.Cache.Values[0].bytes.SequenceEqual(torchCache.Values[0].bytes), "the values' bits differ");
        Assert.InRange(Compare.RelativeError(actual, expected), 0, 1e-5);
    }

    [Fact]
    public void ConcurrentCallersEachGetTheirOwnResult()
    {
        using var temporaries = torch.NewDisposeScope();
        // One caller at a time gets the thread pool; the others run their call on their own thread.
        var errors = new double[6];
        Parallel.For(0, errors.Length, new ParallelOptions { MaxDegreeOfParallelism = 3 }, i =>
        {
            using var c = PagedCase.Create(50 + i, [(300 + 40 * i, 1), (90, 12), (700, 1)], queryHeads: 4, kvHeads: 2);
            errors[i] = Run(c);
        });
        Assert.All(errors, e => Assert.InRange(e, 0, 1e-5));
    }

    [Fact]
    public void EmptyBatchIsANoOp()
    {
        using var temporaries = torch.NewDisposeScope();
        using var cache = new PagedKvCache(1, 4, 16, 2, 64, ScalarType.Float32, CPU);
        using var batch = new AttentionBatch([], [0], [], [], []);
        using var q = empty(0, 2, 64);
        using var output = new NativePagedAttention(cache).Forward(0, q, empty(0, 2, 64), empty(0, 2, 64), new AttentionScores(0.125), batch);
        Assert.Equal(0, output.shape[0]);
    }

    [Fact]
    public void BlockIdOutsideTheCacheIsRejected()
    {
        using var temporaries = torch.NewDisposeScope();
        using var c = PagedCase.Create(11, [(40, 1)]);
        c.Batch.BlockTables[0][1] = c.Cache.NumBlocks;
        using var bad = new AttentionBatch(c.Batch.SequenceIds, c.Batch.QueryStarts, c.Batch.ContextLengths, c.Batch.BlockTables, c.Batch.SlotMapping);
        var e = Assert.Throws<ArgumentException>(() =>
            new NativePagedAttention(c.Cache).Attend(0, c.Query, c.Scores, bad, empty_like(c.Query)));
        Assert.Contains("block id", e.Message);
    }

    [Fact]
    public void ContextShorterThanItsQueriesIsRejected()
    {
        using var temporaries = torch.NewDisposeScope();
        using var c = PagedCase.Create(12, [(40, 1)]);
        using var bad = new AttentionBatch([0], [0, 1], [0], c.Batch.BlockTables, c.Batch.SlotMapping);
        var e = Assert.Throws<ArgumentException>(() =>
            new NativePagedAttention(c.Cache).Attend(0, c.Query, c.Scores, bad, empty_like(c.Query)));
        Assert.Contains("shorter than", e.Message);
    }
}

/// <summary>Sliding windows and soft-capping in the native kernel, against the float32 reference
/// (which masks keys at or before position - window and caps scaled scores as cap * tanh(s / cap)).</summary>
public class NativeWindowAndSoftCapTests
{
    // Decodes, prompt chunks that start before and after the window, a context of one.
    private static readonly (int, int)[] Mixed = [(40, 1), (70, 9), (5, 5), (129, 1), (33, 17), (1, 1), (300, 40)];

    [Theory]
    [InlineData(64, 16, 16, 0.0, ScalarType.Float32)]
    [InlineData(64, 4, 24, 0.0, ScalarType.BFloat16)]
    [InlineData(128, 1, 60, 0.0, ScalarType.Float32)]
    [InlineData(40, 4, 0, 4.0, ScalarType.Float32)]   // a multiple of 8 only: the generic vector path
    [InlineData(64, 16, 60, 4.0, ScalarType.Float32)]
    [InlineData(36, 4, 7, 2.5, ScalarType.Float32)]   // the scalar kernel
    [InlineData(72, 5, 3, 50.0, ScalarType.BFloat16)]
    [InlineData(64, 4, 24, 30.0, ScalarType.Float16)]
    [InlineData(36, 3, 7, 0.0, ScalarType.Float16)]   // the scalar kernel
    public void WindowedAndCappedAttentionMatchesReference(int headSize, int blockSize, int window, double softCap, ScalarType dtype)
    {
        using var temporaries = torch.NewDisposeScope();
        using var c = PagedCase.Create(headSize * 7 + window, Mixed, queryHeads: 8, kvHeads: 2, headSize: headSize,
            blockSize: blockSize, dtype: dtype, window: window, softCap: softCap);
        Assert.InRange(NativePagedAttentionTests.Run(c), 0, Compare.Tolerance(dtype));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(8)]
    [InlineData(64)]
    public void WindowedAttentionSplitOverPartitionsMatchesReference(int partitionSize)
    {
        using var temporaries = torch.NewDisposeScope();
        using var c = PagedCase.Create(77 + partitionSize, [(700, 1), (300, 30), (64, 2)], window: 40, softCap: 3);
        Assert.InRange(NativePagedAttentionTests.Run(c, partitionSize), 0, 1e-5);
    }

    [Fact]
    public void TheWindowChangesTheResult()
    {
        using var temporaries = torch.NewDisposeScope();
        using var windowed = PagedCase.Create(5, [(100, 3)], window: 10);
        using var full = PagedCase.Create(5, [(100, 3)]);
        windowed.WriteWithTorch();
        full.WriteWithTorch();
        using var a = windowed.Native();
        using var b = full.Native();
        Assert.True(Compare.RelativeError(a, b) > 1e-2);
    }
}
