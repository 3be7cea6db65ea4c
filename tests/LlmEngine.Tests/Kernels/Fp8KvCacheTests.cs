using LlmEngine.Kernels.Attention;
using LlmEngine.Kernels.Cache;
using TorchSharp;
using static TorchSharp.torch;

namespace LlmEngine.Tests.Kernels;

/// <summary>
/// The fp8 KV cache's two formats, element by element: every one of the 256 codes as the attention
/// kernels read it (each instruction set's kernel, decode items and prompt tiles), and write_kv's
/// encoding (round to nearest even, saturation, NaN) against values derived here from the formats'
/// definitions, and against libtorch's own float8 conversion where that does not overflow.
/// </summary>
public class Fp8KvCacheTests
{
    private static bool E4M3(ScalarType format) => format == KvCacheDTypes.Float8E4M3;

    /// <summary>A code's value from the format's definition: e4m3fn S.EEEE.MMM bias 7, no infinities, S.1111.111 NaN;
    /// e5m2 S.EEEEE.MM bias 15, IEEE-like (exponent 31: infinity or NaN).</summary>
    internal static double Value(int code, ScalarType format)
    {
        bool e4m3 = E4M3(format);
        int mantissaBits = e4m3 ? 3 : 2, bias = e4m3 ? 7 : 15;
        int exponent = (code & 0x7f) >> mantissaBits, mantissa = code & ((1 << mantissaBits) - 1);
        double magnitude;
        if (e4m3 && exponent == 15 && mantissa == 7) return double.NaN;
        if (!e4m3 && exponent == 31) magnitude = mantissa == 0 ? double.PositiveInfinity : double.NaN;
        else if (exponent == 0) magnitude = Math.ScaleB(mantissa, 1 - bias - mantissaBits);
        else magnitude = Math.ScaleB(1 + mantissa / (double)(1 << mantissaBits), exponent - bias);
        return (code & 0x80) != 0 ? -magnitude : magnitude;
    }

    /// <summary>The code of x: the nearest finite value (ties to the even code), saturating at the largest finite;
    /// NaN is 0x7f with x's sign.</summary>
    internal static byte Encode(float x, ScalarType format)
    {
        int sign = float.IsNegative(x) ? 0x80 : 0;
        if (float.IsNaN(x)) return (byte)(sign | 0x7f);
        int max = E4M3(format) ? 0x7e : 0x7b;
        double a = Math.Abs((double)x);
        if (a >= Value(max, format)) return (byte)(sign | max);  // a nearest-value search cannot tell huge distances apart
        int best = 0;
        for (int c = 1; c <= max; c++)
        {
            double d = Math.Abs(Value(c, format) - a), b = Math.Abs(Value(best, format) - a);
            if (d < b || d == b && c % 2 == 0) best = c;
        }
        return (byte)(sign | best);
    }

    [Theory]
    [InlineData(KvCacheDTypes.Float8E4M3, 64, 4, 4)]   // AVX-512, one query head per kv head
    [InlineData(KvCacheDTypes.Float8E5M2, 64, 4, 4)]
    [InlineData(KvCacheDTypes.Float8E4M3, 64, 4, 8)]   // groups of 2: rows widened to float32 once per chunk
    [InlineData(KvCacheDTypes.Float8E5M2, 64, 4, 8)]
    [InlineData(KvCacheDTypes.Float8E4M3, 80, 4, 4)]   // AVX-512: 64 codes of a row at once (VBMI tables), then 16
    [InlineData(KvCacheDTypes.Float8E5M2, 80, 4, 4)]
    [InlineData(KvCacheDTypes.Float8E4M3, 48, 8, 8)]   // AVX-512, a head size without its own kernel: 16 codes at a time
    [InlineData(KvCacheDTypes.Float8E5M2, 48, 8, 8)]
    [InlineData(KvCacheDTypes.Float8E4M3, 40, 8, 8)]   // the AVX2 kernel
    [InlineData(KvCacheDTypes.Float8E5M2, 40, 8, 8)]
    [InlineData(KvCacheDTypes.Float8E4M3, 36, 8, 8)]   // the scalar kernel
    [InlineData(KvCacheDTypes.Float8E5M2, 36, 8, 8)]
    public void EveryCodeReadsAsItsValueInDecodeAndPrompt(ScalarType format, int headSize, int kvHeads, int queryHeads)
    {
        using var temporaries = torch.NewDisposeScope();
        // Position 0's value row holds every code (code i % 256 at element i of the row's kv heads); its key
        // is zero. A query that sees key 0 alone gives it weight exactly 1, so its output is that value row
        // as the kernel decoded it. Token 0 of a 2-token prompt sees key 0 alone, as does a decode token
        // over a context of 1.
        using var cache = new PagedKvCache(1, 1, 16, kvHeads, headSize, format, CPU);
        int elements = kvHeads * headSize;
        Assert.True(elements >= 256);
        var codes = Enumerable.Range(0, elements).Select(i => (byte)(i % 256)).ToArray();
        codes.CopyTo(cache.Values[0].bytes[..elements]);
        int group = queryHeads / kvHeads;
        foreach (int tokens in new[] { 1, 2 })
        {
            using var query = randn(tokens, queryHeads, headSize);
            using var batch = new AttentionBatch([0], [0, tokens], [tokens], [[0]], Enumerable.Range(0, tokens).Select(i => (long)i).ToArray());
            using var output = full(new long[] { tokens, queryHeads, headSize }, double.NaN);
            new NativePagedAttention(cache).Attend(0, query, new AttentionScores(0.125), batch, output);
            using var first = output[0].contiguous();
            var actual = first.data<float>().ToArray();
            for (int h = 0; h < queryHeads; h++)
                for (int d = 0; d < headSize; d++)
                {
                    int code = codes[h / group * headSize + d];
                    double expected = Value(code, format);
                    float got = actual[h * headSize + d];
                    Assert.True(double.IsNaN(expected) ? float.IsNaN(got) : got == expected,
                        $"{tokens}-token step, head {h}: code 0x{code:x2} read as {got}, expected {expected}");
                }
        }
        // libtorch's float8 conversion agrees with the definition used above.
        using var decoded = cache.Values[0].to(float32).contiguous();
        var torchValues = decoded.data<float>().ToArray();
        for (int i = 0; i < 256; i++)
            Assert.True(double.IsNaN(Value(i, format)) ? float.IsNaN(torchValues[i]) : torchValues[i] == Value(i, format), $"torch reads 0x{i:x2} as {torchValues[i]}");
    }

    // Every finite value, the midpoints between neighbours (ties), a float32 step either side of them,
    // values past the largest finite, infinities, NaN, zeros and what lies below the smallest subnormal.
    private static float[] Inputs(ScalarType format)
    {
        int max = E4M3(format) ? 0x7e : 0x7b;
        var values = new List<float>();
        for (int c = 0; c <= max; c++)
        {
            float v = (float)Value(c, format);
            values.Add(v);
            if (c < max)
            {
                float mid = (float)((Value(c, format) + Value(c + 1, format)) / 2);  // exact: a bit more than the format's
                values.AddRange([mid, MathF.BitIncrement(mid), MathF.BitDecrement(mid)]);
            }
        }
        double largest = Value(max, format);
        values.AddRange([(float)(largest * 1.03), (float)(largest * 1.0625), (float)(largest * 1.2), 1e30f, float.MaxValue,
            float.PositiveInfinity, float.NaN, 0f, 1e-30f, 1e-40f, float.Epsilon]);
        return values.Concat(values.Select(v => -v)).ToArray();
    }

    [Theory]
    [InlineData(KvCacheDTypes.Float8E4M3, 64, ScalarType.Float32)]
    [InlineData(KvCacheDTypes.Float8E5M2, 64, ScalarType.Float32)]
    [InlineData(KvCacheDTypes.Float8E4M3, 36, ScalarType.Float32)]   // rows of 32 vector lanes and 4 scalar ones
    [InlineData(KvCacheDTypes.Float8E4M3, 64, ScalarType.BFloat16)]
    [InlineData(KvCacheDTypes.Float8E5M2, 36, ScalarType.BFloat16)]
    public void WriteKvRoundsToNearestEvenAndSaturates(ScalarType format, int headSize, ScalarType input)
    {
        using var temporaries = torch.NewDisposeScope();
        var inputs = Inputs(format);
        int tokens = (inputs.Length + headSize - 1) / headSize;
        var padded = inputs.Concat(Enumerable.Repeat(0f, tokens * headSize - inputs.Length)).ToArray();
        using var source = tensor(padded).view(tokens, 1, headSize);
        using var rows = source.to(input);
        using var asFloat = rows.to(float32).contiguous();
        var seen = asFloat.data<float>().ToArray();  // what write_kv reads (bfloat16 inputs are already rounded)
        using var cache = new PagedKvCache(1, (tokens + 15) / 16, 16, 1, headSize, format, CPU);
        using var slots = arange(tokens, dtype: int64);
        CacheOperations.WriteKv(cache, 0, rows, rows, slots);
        var written = cache.Keys[0].bytes.ToArray();
        for (int i = 0; i < padded.Length; i++)
            Assert.True(Encode(seen[i], format) == written[i], $"{seen[i]:R} (bits 0x{BitConverter.SingleToUInt32Bits(seen[i]):x8}) written as 0x{written[i]:x2}, expected 0x{Encode(seen[i], format):x2}");
        Assert.True(written.SequenceEqual(cache.Values[0].bytes.ToArray()));

        // The TorchSharp path (other devices, the torch backend) writes the same bits: it saturates, then converts.
        using var viaTorch = new PagedKvCache(1, cache.NumBlocks, 16, 1, headSize, format, CPU);
        CacheOperations.WriteKvWithTorch(viaTorch, 0, rows, rows, slots);
        var torchBytes = viaTorch.Keys[0].bytes.ToArray();
        for (int i = 0; i < padded.Length; i++)
            if (!float.IsNaN(seen[i]))  // libtorch's NaN code may differ; NaN either way
                Assert.True(torchBytes[i] == written[i], $"{seen[i]:R}: torch wrote 0x{torchBytes[i]:x2}, write_kv 0x{written[i]:x2}");
    }

    [Fact]
    public void CopyAndSwapMoveFp8BlocksAsTheyAre()
    {
        using var cache = new PagedKvCache(2, 6, 16, 2, 64, KvCacheDTypes.Float8E4M3, CPU);
        var random = new Random(3);
        foreach (var t in cache.Keys.Concat(cache.Values)) random.NextBytes(t.bytes);
        using var host = new PagedKvCache(2, 2, 16, 2, 64, KvCacheDTypes.Float8E4M3, CPU);
        int block = 16 * 2 * 64;
        var source = cache.Keys[1].bytes.Slice(4 * block, block).ToArray();
        CacheOperations.CopyBlocks(cache, [(4, 0)]);
        CacheOperations.SwapBlocks(cache, host, [(0, 1)]);
        Assert.True(host.Keys[1].bytes.Slice(block, block).SequenceEqual(source));
        Assert.True(cache.Keys[1].bytes.Slice(0, block).SequenceEqual(source));
    }

    [Fact]
    public void TheCacheHoldsTwiceTheBlocksOfA16BitOneInTheSameBytes()
    {
        long sixteen = PagedKvCache.BytesPerBlock(12, 16, 12, 64, ScalarType.BFloat16);
        Assert.Equal(sixteen, 2 * PagedKvCache.BytesPerBlock(12, 16, 12, 64, KvCacheDTypes.Float8E4M3));
        Assert.Equal(sixteen, 2 * PagedKvCache.BytesPerBlock(12, 16, 12, 64, KvCacheDTypes.Float8E5M2));
    }
}
