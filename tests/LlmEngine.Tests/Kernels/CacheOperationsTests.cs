using LlmEngine.Kernels.Cache;
using LlmEngine.Kernels.Native;
using TorchSharp;
using static TorchSharp.torch;

namespace LlmEngine.Tests.Kernels;

public class CacheOperationsTests
{
    private static PagedKvCache RandomCache(int layers, int blocks, ScalarType dtype, int seed)
    {
        var cache = new PagedKvCache(layers, blocks, 16, 2, 64, dtype, CPU);
        var generator = new torch.Generator((ulong)seed);
        for (int l = 0; l < layers; l++)
        {
            cache.Keys[l].copy_(randn(cache.Keys[l].shape, generator: generator));
            cache.Values[l].copy_(randn(cache.Values[l].shape, generator: generator));
        }
        return cache;
    }

    private static bool Same(Tensor a, Tensor b)
    {
        using var eq = a.eq(b).all();
        return eq.item<bool>();
    }

    [Theory]
    [InlineData(ScalarType.Float32, ScalarType.Float32)]
    [InlineData(ScalarType.BFloat16, ScalarType.Float32)]
    [InlineData(ScalarType.BFloat16, ScalarType.BFloat16)]
    [InlineData(ScalarType.Float32, ScalarType.BFloat16)]
    [InlineData(ScalarType.Float16, ScalarType.Float32)]
    [InlineData(ScalarType.Float16, ScalarType.BFloat16)]
    public void WriteKvStoresAtTheSlotsLikeTheTorchPath(ScalarType cacheType, ScalarType inputType)
    {
        using var temporaries = torch.NewDisposeScope();
        using var c = PagedCase.Create(20, [(40, 7), (3, 3), (90, 1)], queryHeads: 4, kvHeads: 4, dtype: cacheType, queryDType: inputType);
        using var expected = new PagedKvCache(1, c.Cache.NumBlocks, 16, 4, 64, cacheType, CPU);
        expected.Keys[0].copy_(c.Cache.Keys[0]);
        expected.Values[0].copy_(c.Cache.Values[0]);
        CacheOperations.WriteKvWithTorch(expected, 0, c.Key, c.Value, c.Batch.SlotMappingTensor(CPU));
        CacheOperations.WriteKv(c.Cache, 0, c.Key, c.Value, c.Batch.SlotMappingTensor(CPU));
        Assert.True(Same(c.Cache.Keys[0], expected.Keys[0]));
        Assert.True(Same(c.Cache.Values[0], expected.Values[0]));
    }

    [Fact]
    public void WriteKvRoundsFloat32IntoABFloat16CacheToNearestEven()
    {
        using var temporaries = torch.NewDisposeScope();
        // 1 + 2^-8 and 1 + 3 * 2^-8 lie halfway between two bfloat16 values: ties go to the even one
        // (1 and 1 + 2^-6); 1 + 2^-8 + 2^-20 is just above the tie and rounds up.
        float[] inputs = [1f + 1f / 256, 1f + 3f / 256, 1f + 1f / 256 + 1f / (1 << 20), -(1f + 1f / 256)];
        float[] rounded = [1f, 1f + 1f / 64, 1f + 1f / 128, -1f];
        using var cache = new PagedKvCache(1, 1, 16, 1, 64, ScalarType.BFloat16, CPU);
        using var key = tensor(Enumerable.Range(0, 64).Select(i => inputs[i % 4]).ToArray()).view(1, 1, 64);
        using var slots = tensor(new long[] { 3 });
        CacheOperations.WriteKv(cache, 0, key, key, slots);
        using var stored = cache.Keys[0][0, 3, 0].to(float32);
        Assert.Equal(Enumerable.Range(0, 64).Select(i => rounded[i % 4]), stored.data<float>().ToArray());
    }

    [Theory]
    [InlineData(ScalarType.Float32)]
    [InlineData(ScalarType.BFloat16)]
    public void WriteKvRoundsIntoAFloat16CacheBitForBitAsTorchDoes(ScalarType input) => AssertFloat16WriteIsTorchsRounding(input);

    /// <summary>
    /// Values at float16's edges, as float32 (or rounded to bfloat16 first), written by the native write_kv
    /// into a float16 cache: the stored bits are torch's <c>.to(float16)</c> (round to nearest even)
    /// element for element. Rows of 40 elements: 2.5 AVX-512 vectors, so the scalar tail is checked too.
    /// </summary>
    internal static void AssertFloat16WriteIsTorchsRounding(ScalarType input)
    {
        const int D = 40;
        var values = Float16Edges().ToList();
        var random = new Random(7);
        while (values.Count % D != 0 || values.Count < 40 * D)  // and values at every scale float16 has
            values.Add((float)((random.NextDouble() * 2 - 1) * Math.Pow(2, random.Next(-27, 17))));
        int tokens = values.Count / D;
        using var cache = new PagedKvCache(1, (tokens + 15) / 16, 16, 1, D, ScalarType.Float16, CPU);
        using var source = tensor(values.ToArray()).view(tokens, 1, D);
        using var key = source.to(input);
        using var slots = arange(tokens, dtype: int64);
        CacheOperations.WriteKv(cache, 0, key, key, slots);
        using var expected = key.to(ScalarType.Float16);
        using var flat = cache.Keys[0].view(-1, 1, D);
        using var stored = flat[..tokens].contiguous();
        byte[] want = expected.bytes.ToArray(), got = stored.bytes.ToArray();
        for (int i = 0; i < values.Count; i++)
            Assert.True(want[2 * i] == got[2 * i] && want[2 * i + 1] == got[2 * i + 1],
                $"{values[i]:R} ({input}): stored 0x{got[2 * i + 1]:x2}{got[2 * i]:x2}, torch 0x{want[2 * i + 1]:x2}{want[2 * i]:x2}");
    }

    // Ties between float16 neighbours (to the even one) and just past them, the largest finite values and
    // the overflow to infinity from 65520 on, the subnormals and the rounding into and out of them, zeros,
    // infinities and NaN.
    private static IEnumerable<float> Float16Edges()
    {
        const float ulp1 = 1f / 1024;
        for (int k = 0; k < 8; k++)
        {
            yield return 1 + k * ulp1 / 2;
            yield return -(1 + k * ulp1 / 2);
            yield return 1 + k * ulp1 / 2 + ulp1 / 4096;
        }
        foreach (float f in new[] { 65504f, 65505f, 65519.99f, 65520f, 65536f, 1e6f, float.MaxValue, float.PositiveInfinity, float.NegativeInfinity })
        {
            yield return f;
            yield return -f;
        }
        float sub = MathF.Pow(2, -24);  // the smallest subnormal
        foreach (float f in new[] { MathF.Pow(2, -14), MathF.Pow(2, -14) - sub / 2, MathF.Pow(2, -14) - sub, sub, sub / 2, sub / 2 * 1.0001f,
                     3 * sub / 2, 5 * sub / 2, sub / 4, 1e-8f, float.Epsilon, 0f, 1023.5f * sub, 2047f * sub / 2 })
        {
            yield return f;
            yield return -f;
        }
        yield return float.NaN;
    }

    [Fact]
    public void CopyAndSwapMoveFloat16BlocksAsTheyAre()
    {
        using var cache = RandomCache(2, 6, ScalarType.Float16, 26);
        using var host = new PagedKvCache(2, 2, 16, 2, 64, ScalarType.Float16, CPU);
        using var block = cache.Keys[1][4].clone();
        CacheOperations.CopyBlocks(cache, [(4, 0)]);
        CacheOperations.SwapBlocks(cache, host, [(0, 1)]);
        Assert.True(Same(host.Keys[1][1], block));
        Assert.True(Same(cache.Keys[1][0], block));
    }

    [Fact]
    public void WriteKvSkipsNegativeSlotsAndReadsStridedInputs()
    {
        using var temporaries = torch.NewDisposeScope();
        using var cache = RandomCache(1, 4, ScalarType.Float32, 21);
        using var before = cache.Keys[0].clone();
        using var wide = randn(3, 2, 128);
        using var key = wide[.., .., ..64];  // strided
        using var slots = tensor(new long[] { 5, -1, 63 });
        NativeKernels.WriteKv(key, key, cache.Keys[0], cache.Values[0], slots);
        var flat = cache.Keys[0].view(-1, 2, 64);
        Assert.True(Same(flat[5], key[0]));
        Assert.True(Same(flat[63], key[2]));
        using var rest = before.view(-1, 2, 64);
        Assert.True(Same(flat[6..63], rest[6..63]));
        Assert.True(Same(flat[..5], rest[..5]));
    }

    [Fact]
    public void CopyBlocksCopiesEveryLayerAndNothingElse()
    {
        using var cache = RandomCache(2, 10, ScalarType.BFloat16, 22);
        var keys = cache.Keys.Select(k => k.clone()).ToArray();
        var values = cache.Values.Select(v => v.clone()).ToArray();
        CacheOperations.CopyBlocks(cache, [(3, 7), (5, 1)]);
        for (int l = 0; l < 2; l++)
        {
            using var expectedKeys = keys[l].clone();
            using var expectedValues = values[l].clone();
            expectedKeys[7] = keys[l][3];
            expectedKeys[1] = keys[l][5];
            expectedValues[7] = values[l][3];
            expectedValues[1] = values[l][5];
            Assert.True(Same(cache.Keys[l], expectedKeys));
            Assert.True(Same(cache.Values[l], expectedValues));
        }
    }

    [Fact]
    public void SwapOutAndBackRestoresTheBlocks()
    {
        using var device = RandomCache(2, 8, ScalarType.Float32, 23);
        using var host = new PagedKvCache(2, 3, 16, 2, 64, ScalarType.Float32, CPU);
        var original = device.Keys.Concat(device.Values).Select(t => t.clone()).ToArray();
        CacheOperations.SwapBlocks(device, host, [(6, 0), (2, 2)]);
        for (int l = 0; l < 2; l++)  // the freed device blocks get reused meanwhile
        {
            device.Keys[l][6].fill_(0);
            device.Keys[l][2].fill_(0);
            device.Values[l][6].fill_(0);
            device.Values[l][2].fill_(0);
        }
        CacheOperations.SwapBlocks(host, device, [(0, 6), (2, 2)]);
        var restored = device.Keys.Concat(device.Values).ToArray();
        for (int i = 0; i < restored.Length; i++) Assert.True(Same(restored[i], original[i]));
    }

    [Fact]
    public void SwapBetweenDifferentLayoutsIsRejected()
    {
        using var a = RandomCache(1, 4, ScalarType.Float32, 24);
        using var b = new PagedKvCache(1, 4, 8, 2, 64, ScalarType.Float32, CPU);
        Assert.Throws<ArgumentException>(() => CacheOperations.SwapBlocks(a, b, [(0, 0)]));
    }

    [Fact]
    public void BlockOutsideTheCacheIsRejected()
    {
        using var cache = RandomCache(1, 4, ScalarType.Float32, 25);
        var e = Assert.Throws<ArgumentException>(() => CacheOperations.CopyBlocks(cache, [(1, 4)]));
        Assert.Contains("out of range", e.Message);
    }
}
