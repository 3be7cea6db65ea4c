using LlmEngine.Kernels.Attention;
using LlmEngine.Kernels.Cache;
using TorchSharp;
using static TorchSharp.torch;

namespace LlmEngine.Tests.Kernels;

/// <summary>
/// A random paged-attention step: a cache with random contents, block tables drawn from a
/// shuffled pool of blocks (optionally sharing prefix blocks), and random queries, keys and
/// values for each sequence's query tokens. The reference is CausalAttention in float32 over
/// each sequence's keys and values gathered through its block table.
/// </summary>
internal sealed class PagedCase : IDisposable
{
    public required PagedKvCache Cache { get; init; }
    public required AttentionBatch Batch { get; init; }
    public required Tensor Query { get; init; }
    public required Tensor Key { get; init; }
    public required Tensor Value { get; init; }
    public required AttentionScores Scores { get; init; }
    public int QueryHeads => (int)Query.shape[1];

    /// <param name="sequences">per sequence: its context length after the step and its query tokens</param>
    /// <param name="sharedPrefixBlocks">sequence 1 reuses this many of sequence 0's first blocks</param>
    public static PagedCase Create(int seed, (int Context, int Queries)[] sequences, int queryHeads = 4, int kvHeads = 4,
        int headSize = 64, int blockSize = 16, ScalarType dtype = ScalarType.Float32, int sharedPrefixBlocks = 0,
        ScalarType? queryDType = null, int window = 0, double softCap = 0)
    {
        var random = new Random(seed);
        var blocksPer = sequences.Select(s => (s.Context + blockSize - 1) / blockSize).ToArray();
        int numBlocks = blocksPer.Sum() + 3;
        var pool = Enumerable.Range(0, numBlocks).OrderBy(_ => random.Next()).ToArray();
        int next = 0;
        var tables = new int[sequences.Length][];
        for (int s = 0; s < sequences.Length; s++)
        {
            tables[s] = new int[blocksPer[s]];
            for (int b = 0; b < blocksPer[s]; b++)
                tables[s][b] = s == 1 && b < sharedPrefixBlocks ? tables[0][b] : pool[next++];
        }
        var starts = new int[sequences.Length + 1];
        for (int s = 0; s < sequences.Length; s++) starts[s + 1] = starts[s] + sequences[s].Queries;
        var slots = new List<long>();
        for (int s = 0; s < sequences.Length; s++)
            for (int p = sequences[s].Context - sequences[s].Queries; p < sequences[s].Context; p++)
                slots.Add((long)tables[s][p / blockSize] * blockSize + p % blockSize);

        var generator = new torch.Generator((ulong)seed);
        var cache = new PagedKvCache(1, numBlocks, blockSize, kvHeads, headSize, dtype, CPU);
        using (no_grad())
        {
            cache.Keys[0].copy_(randn(cache.Keys[0].shape, generator: generator));
            cache.Values[0].copy_(randn(cache.Values[0].shape, generator: generator));
        }
        int tokens = starts[^1];
        // Queries are never float16 or fp8: such caches serve float32 (or bfloat16) models.
        var qt = queryDType ?? (dtype is ScalarType.Float32 or ScalarType.BFloat16 ? dtype : ScalarType.Float32);
        return new PagedCase
        {
            Cache = cache,
            Batch = new AttentionBatch(Enumerable.Range(0, sequences.Length).ToArray(), starts,
                sequences.Select(s => s.Context).ToArray(), tables, slots.ToArray()),
            Query = randn([tokens, queryHeads, headSize], generator: generator).to(qt),
            Key = randn([tokens, kvHeads, headSize], generator: generator).to(qt),
            Value = randn([tokens, kvHeads, headSize], generator: generator).to(qt),
            Scores = new AttentionScores(1.0 / Math.Sqrt(headSize), window, softCap),
        };
    }

    /// <summary>Writes the step's keys and values with the TorchSharp reference path.</summary>
    public void WriteWithTorch() => CacheOperations.WriteKvWithTorch(Cache, 0, Key, Value, Batch.SlotMappingTensor(Cache.Device));

    /// <summary>Float32 attention of every query token over its sequence's cached context.</summary>
    public Tensor Reference(Tensor? query = null)
    {
        query ??= Query;
        // The scope holds every intermediate of the chains below (the layer's cache view, the gathered
        // blocks, the query slice) until the result is out: an unreferenced one can be finalized, its
        // native tensor freed, while the next call still reads it (a test host crashed in memmove so).
        using var scope = NewDisposeScope();
        var outputs = new List<Tensor>();
        for (int s = 0; s < Batch.NumSequences; s++)
        {
            int start = Batch.QueryStarts[s], end = Batch.QueryStarts[s + 1], context = Batch.ContextLengths[s];
            if (end == start) continue;
            var table = tensor(Batch.BlockTables[s].Select(b => (long)b).ToArray(), dtype: int64);
            var keys = Cache.Keys[0].index_select(0, table).view(-1, Cache.KvHeads, Cache.HeadSize)[..context];
            var values = Cache.Values[0].index_select(0, table).view(-1, Cache.KvHeads, Cache.HeadSize)[..context];
            outputs.Add(CausalAttention.Attend(query[start..end], keys, values, Batch.FirstQueryPosition(s), Scores));
        }
        return cat(outputs, 0).MoveToOuterDisposeScope();
    }

    /// <summary>The native kernel into an output poisoned with NaN, so any element it fails to write shows.</summary>
    public Tensor Native(int partitionSize = 0, Tensor? query = null, Tensor? output = null)
    {
        query ??= Query;
        output ??= full(query.shape, double.NaN, dtype: query.dtype);
        new NativePagedAttention(Cache, partitionSize).Attend(0, query, Scores, Batch, output);
        return output;
    }

    public void Dispose()
    {
        Cache.Dispose();
        Batch.Dispose();
        Query.Dispose();
        Key.Dispose();
        Value.Dispose();
    }
}

internal static class Compare
{
    /// <summary>max |actual - expected| / max |expected|, in float32; NaN anywhere fails.</summary>
    public static double RelativeError(Tensor actual, Tensor expected)
    {
        using var scope = NewDisposeScope();  // holds the chains' temporaries (see PagedCase.Reference)
        var a = actual.to(float32);
        var e = expected.to(float32);
        Assert.Equal(e.shape, a.shape);
        Assert.False(a.isnan().any().item<bool>(), "the output has NaN (an element was not written)");
        return (a - e).abs().max().item<float>() / Math.Max(e.abs().max().item<float>(), 1e-30);
    }

    /// <summary>The error of a case with this cache dtype (and queries of the same dtype, but float32 ones over a
    /// float16 or fp8 cache) against its reference, which reads the same cached values: float32 queries and outputs
    /// differ by summation order alone (1e-5); bfloat16 ones are rounded to 8 bits on the way in and out.</summary>
    public static double Tolerance(ScalarType dtype) => dtype == ScalarType.BFloat16 ? 1e-2 : 1e-5;
}
