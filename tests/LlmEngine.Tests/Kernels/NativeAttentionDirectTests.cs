using LlmEngine.Kernels.Attention;
using LlmEngine.Kernels.Native;
using TorchSharp;
using static TorchSharp.torch;

namespace LlmEngine.Tests.Kernels;

/// <summary>
/// The plain export that <see cref="NativePagedAttention"/> calls on CPU caches
/// (<see cref="NativeKernels.PagedAttentionDirect"/>) against the two dispatcher calls it replaces:
/// the same kernels on the same arguments, so the same bits in the output and in the cache.
/// </summary>
public class NativeAttentionDirectTests
{
    [Theory]
    [InlineData(ScalarType.Float32, ScalarType.Float32)]
    [InlineData(ScalarType.BFloat16, ScalarType.BFloat16)]
    [InlineData(ScalarType.BFloat16, ScalarType.Float32)]  // float32 queries, keys and values over a bfloat16 cache
    [InlineData(ScalarType.Float16, ScalarType.Float32)]
    public void TheDirectCallGivesTheDispatchersBitsAndCache(ScalarType cacheType, ScalarType queryType)
    {
        (int, int)[] sequences = [(1, 1), (64, 64), (100, 20), (513, 1), (40, 1), (200, 1)];
        using var direct = PagedCase.Create(21, sequences, queryHeads: 8, kvHeads: 2, dtype: cacheType, queryDType: queryType);
        using var dispatched = PagedCase.Create(21, sequences, queryHeads: 8, kvHeads: 2, dtype: cacheType, queryDType: queryType);
        using var scope = NewDisposeScope();
        // Strided views, as the engine passes them (q, k and v are parts of the fused projection).
        var wide = cat([direct.Query, direct.Query], 2);
        var query = wide.narrow(2, 0, direct.Cache.HeadSize);

        var expected = full(query.shape, double.NaN, dtype: query.dtype);
        NativeKernels.WriteKv(dispatched.Key, dispatched.Value, dispatched.Cache.Keys[0], dispatched.Cache.Values[0],
            dispatched.Batch.SlotMappingTensor(CPU));
        NativeKernels.PagedAttention(expected, query, dispatched.Cache.Keys[0], dispatched.Cache.Values[0], dispatched.Batch.BlockTableTensor(CPU),
            dispatched.Batch.ContextLengthTensor(CPU), dispatched.Batch.QueryStartTensor(CPU), dispatched.Scores, dispatched.Batch.MaxContextLength);
        var actual = full(query.shape, double.NaN, dtype: query.dtype);
        NativeKernels.PagedAttentionDirect(actual, query, direct.Cache.Keys[0], direct.Cache.Values[0], direct.Batch, direct.Scores,
            key: direct.Key, value: direct.Value);

        Assert.False(actual.isnan().any().item<bool>(), "the direct call left an output element unwritten");
        Assert.True(actual.eq(expected).all().item<bool>(), "the direct call's output differs from the dispatcher's");
        Assert.True(direct.Cache.Keys[0].eq(dispatched.Cache.Keys[0]).all().item<bool>());
        Assert.True(direct.Cache.Values[0].eq(dispatched.Cache.Values[0]).all().item<bool>());
        // And the step's keys did land in the cache (the comparison above would pass if neither call wrote).
        var slot = direct.Batch.SlotMapping[^1];
        var bs = direct.Cache.BlockSize;
        Assert.True(direct.Cache.Keys[0][slot / bs, slot % bs].eq(direct.Key[-1].to(cacheType)).all().item<bool>());
    }

    [Fact]
    public void TheDirectCallRejectsWhatTheDispatcherRejectsWithTheSameReason()
    {
        using var c = PagedCase.Create(22, [(40, 1)]);
        using var scope = NewDisposeScope();
        var value = c.Value.narrow(1, 0, 2);  // [1, 2, 64] against the key's [1, 4, 64]
        var output = empty_like(c.Query);
        var direct = Assert.Throws<ArgumentException>(() => NativeKernels.PagedAttentionDirect(output, c.Query, c.Cache.Keys[0],
            c.Cache.Values[0], c.Batch, c.Scores, key: c.Key, value: value));
        var dispatched = Assert.Throws<ArgumentException>(() => NativeKernels.WriteKv(c.Key, value, c.Cache.Keys[0], c.Cache.Values[0],
            c.Batch.SlotMappingTensor(CPU)));
        // The shapes are written into the message only when a check fails (tensor_arg.h's ShapeText).
        Assert.Contains("value: shape [1, 2, 64] differs from key's [1, 4, 64]", direct.Message);
        Assert.Contains("value: shape [1, 2, 64] differs from key's [1, 4, 64]", dispatched.Message);
    }
}

public class KernelBenchmarkTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ACaseRunsWarmOrColdAndReadsEveryKeyAndValueOnce(bool cold)
    {
        var report = KernelBenchmark.RunDecode(new KernelBenchmarkOptions
        {
            BatchSizes = [2], ContextLengths = [40], DTypes = [ScalarType.BFloat16], Repeats = 3, TorchRepeats = 0,
            BandwidthBytes = 4L << 20, Cold = cold,
        });
        var row = Assert.Single(report.Rows);
        Assert.InRange(row.Milliseconds, 1e-6, 1e4);
        // K/V bytes per second times the time: 2 sequences x 40 keys x 12 heads x 64 x 2 bytes, keys and values.
        Assert.Equal(2.0 * 2 * 40 * 12 * 64 * 2, row.KvBytesPerSecond * row.Milliseconds / 1e3, 1e-3 * row.KvBytesPerSecond * row.Milliseconds / 1e3);
    }
}
