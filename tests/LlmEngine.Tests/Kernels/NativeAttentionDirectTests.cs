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

    /// <summary>The heads of a fused projection read where they lie (NativePagedAttention's Forward on qkv, the
    /// LLaMA layer's path) give the bits and cache of the same heads passed as views.</summary>
    [Theory]
    [InlineData(ScalarType.Float32, ScalarType.Float32)]
    [InlineData(ScalarType.Float16, ScalarType.Float32)]
    [InlineData(ScalarType.BFloat16, ScalarType.BFloat16)]
    public void AFusedProjectionsHeadsGiveTheViewsBitsAndCache(ScalarType cacheType, ScalarType queryType)
    {
        (int, int)[] sequences = [(1, 1), (100, 20), (40, 1)];
        using var fused = PagedCase.Create(23, sequences, queryHeads: 8, kvHeads: 2, dtype: cacheType, queryDType: queryType);
        using var views = PagedCase.Create(23, sequences, queryHeads: 8, kvHeads: 2, dtype: cacheType, queryDType: queryType);
        using var scope = NewDisposeScope();
        long n = fused.Query.size(0), d = fused.Cache.HeadSize;
        // One row of q, k and v side by side, and a column past them: the row stride is not the heads' width.
        var qkv = cat([fused.Query.reshape(n, 8 * d), fused.Key.reshape(n, 2 * d), fused.Value.reshape(n, 2 * d), zeros(n, 1, dtype: queryType)], 1);
        var projection = qkv.narrow(1, 0, 12 * d);
        var viewsQuery = qkv.narrow(1, 0, 8 * d).view(n, 8, d);
        var viewsKey = qkv.narrow(1, 8 * d, 2 * d).view(n, 2, d);
        var viewsValue = qkv.narrow(1, 10 * d, 2 * d).view(n, 2, d);

        var expected = full(new[] { n, 8, d }, double.NaN, dtype: queryType);
        NativeKernels.PagedAttentionDirect(expected, viewsQuery, views.Cache.Keys[0], views.Cache.Values[0], views.Batch, views.Scores,
            key: viewsKey, value: viewsValue);
        var actual = full(new[] { n, 8, d }, double.NaN, dtype: queryType);
        NativeKernels.PagedAttentionDirect(actual, projection, 8, 2, (int)d, fused.Cache.Keys[0], fused.Cache.Values[0], fused.Batch, fused.Scores);

        Assert.False(actual.isnan().any().item<bool>(), "the fused call left an output element unwritten");
        Assert.True(actual.eq(expected).all().item<bool>(), "the fused projection's heads give other bits than its views");
        Assert.True(fused.Cache.Keys[0].eq(views.Cache.Keys[0]).all().item<bool>());
        Assert.True(fused.Cache.Values[0].eq(views.Cache.Values[0]).all().item<bool>());
        var slot = fused.Batch.SlotMapping[^1];
        var bs = fused.Cache.BlockSize;
        Assert.True(fused.Cache.Values[0][slot / bs, slot % bs].eq(fused.Value[-1].to(cacheType)).all().item<bool>());
    }

    [Fact]
    public void AProjectionTooNarrowForItsHeadsIsRejected()
    {
        using var c = PagedCase.Create(24, [(40, 1)], queryHeads: 8, kvHeads: 2);
        using var scope = NewDisposeScope();
        var qkv = zeros(1, 11 * c.Cache.HeadSize);
        var output = empty_like(c.Query);
        var error = Assert.Throws<ArgumentException>(() => NativeKernels.PagedAttentionDirect(output, qkv, 8, 2, c.Cache.HeadSize, c.Cache.Keys[0],
            c.Cache.Values[0], c.Batch, c.Scores));
        Assert.Contains($"qkv [1, {11 * c.Cache.HeadSize}]", error.Message);
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
