using LlmEngine.Kernels.Native;
using System.Diagnostics;
using LlmEngine.Kernels.Cache;
using TorchSharp;
using static TorchSharp.torch;

namespace LlmEngine.Kernels.Attention;

/// <summary>What <see cref="KernelBenchmark.RunDecode"/> measures; the defaults are the shape of a 110M LLaMA layer.</summary>
public sealed record KernelBenchmarkOptions
{
    public IReadOnlyList<int> BatchSizes { get; init; } = [1, 16, 64];
    public IReadOnlyList<int> ContextLengths { get; init; } = [512, 2048];
    /// <summary>Cache dtypes; queries, keys and values are in the same dtype, but float32 over a float16
    /// cache (the engine's case: quantized weights compute in float32).</summary>
    public IReadOnlyList<ScalarType> DTypes { get; init; } = [ScalarType.Float32, ScalarType.BFloat16, ScalarType.Float16];
    public int QueryHeads { get; init; } = 12;
    public int KvHeads { get; init; } = 12;
    public int HeadSize { get; init; } = 64;
    public int BlockSize { get; init; } = 16;
    public int Repeats { get; init; } = 15;
    /// <summary>Calls of the (much slower) TorchSharp backend per case; 0 skips the comparison.</summary>
    public int TorchRepeats { get; init; } = 3;
    /// <summary>Bytes of the tensor copied to measure memory bandwidth.</summary>
    public long BandwidthBytes { get; init; } = 256L << 20;
    /// <summary>Read <see cref="BandwidthBytes"/> of other memory (untimed) before each timed call, so that
    /// the call reads its keys and values from memory, as a decode step's attention does after the step's
    /// weights have passed through the caches. Without it a case that fits in L2 or L3 runs from there.</summary>
    public bool Cold { get; init; }
    public int Seed { get; init; } = 1;
}

/// <param name="Milliseconds">median time of one native call (K/V write + attention of one layer)</param>
/// <param name="CopyBytesPerSecond">memory bandwidth measured just before this case (see <see cref="KernelBenchmark.CopyBandwidth"/>)</param>
/// <param name="ReadBytesPerSecond">read bandwidth measured just before this case (see <see cref="KernelBenchmark.ReadBandwidth"/>)</param>
/// <param name="KvBytesPerSecond">bytes of cached keys and values the call reads, per second</param>
/// <param name="BandwidthShare">KvBytesPerSecond over the copy bandwidth (read + written) measured in the same run</param>
/// <param name="ReadShare">KvBytesPerSecond over the read bandwidth (a large sum) measured in the same run</param>
/// <param name="TorchMilliseconds">median time of TorchPagedAttention on the same case, when compared</param>
public sealed record KernelBenchmarkRow(string DType, int Batch, int Context, double Milliseconds, double KvBytesPerSecond,
    double CopyBytesPerSecond, double ReadBytesPerSecond, double BandwidthShare, double ReadShare, double? TorchMilliseconds,
    double? SpeedUp);

/// <param name="CopyBytesPerSecond">median over the cases of the copy bandwidth measured beside each</param>
/// <param name="ReadBytesPerSecond">median over the cases of the read bandwidth measured beside each</param>
public sealed record KernelBenchmarkReport(string Isa, int Threads, double CopyBytesPerSecond, double ReadBytesPerSecond,
    IReadOnlyList<KernelBenchmarkRow> Rows);

/// <summary>
/// Decode attention (one query token per sequence) of the native kernel against memory bandwidth
/// and against <see cref="TorchPagedAttention"/>. Decode attention reads every cached key and
/// value once and does little arithmetic per byte, so the share of bandwidth is its figure of merit.
/// The bandwidth is measured again beside every case, because on a shared machine it drifts
/// (by 2x within minutes on the project's machines) and a share against a stale figure misleads.
/// Prints nothing; the CLI's <c>bench kernel</c> presents the rows.
/// </summary>
public static class KernelBenchmark
{
    public static KernelBenchmarkReport RunDecode(KernelBenchmarkOptions? options = null, Action<KernelBenchmarkRow>? progress = null)
    {
        options ??= new KernelBenchmarkOptions();
        NativeKernels.EnsureAvailable();
        var rows = new List<KernelBenchmarkRow>();
        foreach (var dtype in options.DTypes)
            foreach (int context in options.ContextLengths)
                foreach (int batch in options.BatchSizes)
                {
                    var row = Case(options, dtype, batch, context);
                    rows.Add(row);
                    progress?.Invoke(row);
                }
        return new KernelBenchmarkReport(NativeKernels.Isa, NativeKernels.Threads, MedianOf(rows.Select(r => r.CopyBytesPerSecond)),
            MedianOf(rows.Select(r => r.ReadBytesPerSecond)), rows);
    }

    /// <summary>
    /// Bytes read plus bytes written per second (the STREAM convention) by copying one large
    /// float32 tensor into another, median of 5.
    /// </summary>
    public static double CopyBandwidth(long bytes)
    {
        using var scope = NewDisposeScope();
        var source = ones(bytes / 4, dtype: float32);
        var destination = zeros(bytes / 4, dtype: float32);
        destination.copy_(source);
        return 2.0 * bytes / Median(5, () => destination.copy_(source));
    }

    /// <summary>Bytes read per second by summing one large float32 tensor, median of 5: the ceiling of a kernel that only reads.</summary>
    public static double ReadBandwidth(long bytes)
    {
        using var scope = NewDisposeScope();
        var source = ones(bytes / 4, dtype: float32);
        return bytes / Median(5, () => source.sum().Dispose());
    }

    private static KernelBenchmarkRow Case(KernelBenchmarkOptions o, ScalarType dtype, int batch, int context)
    {
        using var scope = NewDisposeScope();
        int blocksPerSequence = (context + o.BlockSize - 1) / o.BlockSize;
        using var cache = new PagedKvCache(1, batch * blocksPerSequence, o.BlockSize, o.KvHeads, o.HeadSize, dtype, CPU);
        var generator = new torch.Generator((ulong)o.Seed);
        cache.Keys[0].uniform_(-1, 1, generator);
        cache.Values[0].uniform_(-1, 1, generator);

        // Blocks handed out in shuffled order, as a block pool does after a while.
        var random = new Random(o.Seed);
        var pool = Enumerable.Range(0, batch * blocksPerSequence).OrderBy(_ => random.Next()).ToArray();
        var tables = Enumerable.Range(0, batch).Select(s => pool[(s * blocksPerSequence)..((s + 1) * blocksPerSequence)]).ToArray();
        var slots = tables.Select(t => (long)t[(context - 1) / o.BlockSize] * o.BlockSize + (context - 1) % o.BlockSize).ToArray();
        using var step = new AttentionBatch(Enumerable.Range(0, batch).ToArray(), Enumerable.Range(0, batch + 1).ToArray(),
            Enumerable.Repeat(context, batch).ToArray(), tables, slots);
        var inputs = dtype is ScalarType.Float32 or ScalarType.BFloat16 ? dtype : ScalarType.Float32;  // float16 and fp8 caches serve float32 models
        var query = rand([batch, o.QueryHeads, o.HeadSize], generator: generator).to(inputs);
        var key = rand([batch, o.KvHeads, o.HeadSize], generator: generator).to(inputs);
        var value = rand([batch, o.KvHeads, o.HeadSize], generator: generator).to(inputs);
        var scale = new AttentionScores(1.0 / Math.Sqrt(o.HeadSize));

        var native = new NativePagedAttention(cache);
        double bandwidth = CopyBandwidth(o.BandwidthBytes), read = ReadBandwidth(o.BandwidthBytes);
        using var evict = o.Cold ? ones(o.BandwidthBytes / 4, dtype: float32) : null;
        Action? before = evict is null ? null : () => evict.sum().Dispose();
        double seconds = Median(o.Repeats, () => native.Forward(0, query, key, value, scale, step).Dispose(), before);
        double? torchSeconds = null;
        if (o.TorchRepeats > 0)
        {
            var reference = new TorchPagedAttention(cache);
            torchSeconds = Median(o.TorchRepeats, () => reference.Forward(0, query, key, value, scale, step).Dispose());
        }
        double kvBytes = 2.0 * batch * context * o.KvHeads * o.HeadSize * PagedKvCache.ElementSize(dtype);
        return new KernelBenchmarkRow(KvCacheDTypes.NameOf(dtype), batch, context,
            seconds * 1e3, kvBytes / seconds, bandwidth, read, kvBytes / seconds / bandwidth, kvBytes / seconds / read,
            torchSeconds * 1e3, torchSeconds / seconds);
    }

    private static double MedianOf(IEnumerable<double> values)
    {
        var sorted = values.OrderBy(v => v).ToArray();
        return sorted.Length == 0 ? 0 : sorted[sorted.Length / 2];
    }

    // Median seconds of `repeats` timed calls after one untimed warm-up call; `before` runs untimed before each.
    private static double Median(int repeats, Action call, Action? before = null)
    {
        call();
        var times = new double[Math.Max(1, repeats)];
        for (int i = 0; i < times.Length; i++)
        {
            before?.Invoke();
            long start = Stopwatch.GetTimestamp();
            call();
            times[i] = Stopwatch.GetElapsedTime(start).TotalSeconds;
        }
        Array.Sort(times);
        return times[times.Length / 2];
    }
}
