using LlmEngine.Kernels.Attention;
using LlmEngine.Kernels.Cache;
using TorchSharp;
using static TorchSharp.torch;

namespace LlmEngine.Tests.Kernels;

/// <summary>
/// Prompt tiles (several query tokens of a sequence, causal, no window or soft-capping), whose rows
/// the vector kernels compute as the lanes of one vector: against a float64 reference on the same
/// cached keys and values, for every cache dtype, group size, head size, block size and partitioning,
/// and bit for bit whatever tile or batch a token lands in.
/// </summary>
public class NativePromptTileTests
{
    // Prompts of every shape a tile meets: one token past a cached key, partial tiles and chunks,
    // a tile that starts mid-block, a long prompt over a cached prefix, and a decode token beside them.
    private static readonly (int, int)[] Prompts = [(45, 45), (17, 16), (33, 33), (100, 37), (16, 16), (5, 5), (64, 63), (40, 1)];

    [Theory]
    [InlineData(ScalarType.Float32, 4, 4, 64, 16)]
    [InlineData(ScalarType.BFloat16, 4, 4, 64, 16)]   // rows read paired
    [InlineData(ScalarType.Float16, 4, 4, 64, 16)]
    [InlineData(ScalarType.Float32, 8, 4, 64, 16)]    // groups of 2: tiles of 8 tokens
    [InlineData(ScalarType.BFloat16, 12, 4, 128, 5)]  // groups of 3: tiles of 5 tokens (15 rows); chunks across blocks
    [InlineData(ScalarType.Float16, 8, 2, 80, 16)]    // groups of 4; a head size read unpaired
    [InlineData(ScalarType.BFloat16, 8, 2, 80, 7)]
    [InlineData(ScalarType.Float32, 4, 4, 40, 16)]    // the generic head size: the online path
    [InlineData(KvCacheDTypes.Float8E4M3, 4, 4, 64, 16)]
    [InlineData(KvCacheDTypes.Float8E5M2, 8, 4, 64, 16)]                  // groups of 2: rows widened once per chunk
    [InlineData(KvCacheDTypes.Float8E4M3, 12, 4, 128, 5)]
    [InlineData(KvCacheDTypes.Float8E4M3, 8, 2, 80, 7)]
    [InlineData(KvCacheDTypes.Float8E5M2, 4, 4, 40, 16)]                  // the AVX2 kernel
    public void PromptsMatchAFloat64ReferenceOnTheCachedKeys(ScalarType cache, int queryHeads, int kvHeads, int headSize, int blockSize)
    {
        using var temporaries = torch.NewDisposeScope();
        using var c = PagedCase.Create(31 + queryHeads + headSize, Prompts, queryHeads, kvHeads, headSize, blockSize, cache,
            queryDType: ScalarType.Float32);
        c.WriteWithTorch();
        using var expected = Float64Reference(c);
        foreach (int partition in new[] { 0, 16, 100 })  // 16 and 100 split a tile's keys over items
        {
            using var actual = c.Native(partition);
            Assert.InRange(Compare.RelativeError(actual, expected), 0, 1e-5);
        }
    }

    [Theory]
    [InlineData(ScalarType.Float32, 4, 4)]
    [InlineData(ScalarType.BFloat16, 12, 4)]
    [InlineData(ScalarType.Float16, 8, 2)]
    [InlineData(KvCacheDTypes.Float8E4M3, 8, 2)]
    public void APromptTokensBitsDoNotDependOnItsTileOrItsBatch(ScalarType cache, int queryHeads, int kvHeads)
    {
        using var temporaries = torch.NewDisposeScope();
        // Sequence 0's 40-token prompt in one piece beside three others, then its last 23 tokens
        // alone (as the second chunk of a chunked prompt: other tiles, other lanes of them).
        using var c = PagedCase.Create(41 + queryHeads, [(40, 40), (70, 70), (30, 1), (55, 20)], queryHeads, kvHeads, dtype: cache);
        c.WriteWithTorch();
        var attention = new NativePagedAttention(c.Cache);
        using var whole = empty_like(c.Query);
        attention.Attend(0, c.Query, c.Scores, c.Batch, whole);

        var b = c.Batch;
        using var tail = new AttentionBatch([0], [0, 23], [40], [b.BlockTables[0]], b.SlotMapping[17..40]);
        using var query = c.Query[17..40];
        using var alone = empty_like(query);
        attention.Attend(0, query, c.Scores, tail, alone);
        using var same = whole[17..40];
        Assert.True(same.eq(alone).all().item<bool>(), "a prompt token's output changed with its tile or batch");
    }

    // Every query token over its sequence's cached keys and values, in float64.
    private static Tensor Float64Reference(PagedCase c)
    {
        using var scope = NewDisposeScope();
        var b = c.Batch;
        var outputs = new List<Tensor>();
        for (int s = 0; s < b.NumSequences; s++)
        {
            int start = b.QueryStarts[s], end = b.QueryStarts[s + 1], context = b.ContextLengths[s], first = context - (end - start);
            var table = tensor(b.BlockTables[s].Select(x => (long)x).ToArray(), dtype: int64);
            var keys = c.Cache.Keys[0].index_select(0, table).view(-1, c.Cache.KvHeads, c.Cache.HeadSize)[..context].to(float64);
            var values = c.Cache.Values[0].index_select(0, table).view(-1, c.Cache.KvHeads, c.Cache.HeadSize)[..context].to(float64);
            long group = c.QueryHeads / c.Cache.KvHeads;
            var q = c.Query[start..end].to(float64).permute(1, 0, 2);                    // [H, Q, D]
            var k = keys.repeat_interleave(group, dim: 1).permute(1, 2, 0);              // [H, D, T]
            var v = values.repeat_interleave(group, dim: 1).permute(1, 0, 2);            // [H, T, D]
            var weights = matmul(q, k).mul_(c.Scores.Scale);
            var future = arange(context, dtype: int64).unsqueeze(0).gt(arange(first, context, dtype: int64).unsqueeze(1));
            weights.masked_fill_(future.unsqueeze(0), double.NegativeInfinity);
            outputs.Add(matmul(weights.softmax(-1), v).permute(1, 0, 2).to(float32));
        }
        return cat(outputs, 0).MoveToOuterDisposeScope();
    }
}
