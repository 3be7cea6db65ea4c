using System.Runtime.InteropServices;
using LlmEngine.Kernels.Native;

namespace LlmEngine.Kernels.Quantization;

/// <summary>
/// A weight in ggml's layout: <see cref="Shape"/> is row-major (outermost first, so a linear layer's
/// weight is [out_features, in_features] as in PyTorch; the last dimension is ggml's ne[0], the
/// contiguous row), and the bytes are the rows' blocks back to back, <see cref="RowBytes"/> per row.
/// <code>
/// Data ─► row 0: [block 0][block 1]...[block RowLength/BlockElements - 1]
///         row 1: [block 0]...
/// </code>
/// The bytes are either a view of a memory-mapped GGUF file (kept mapped while this tensor lives) or a
/// 64-byte aligned native allocation of ours; either way <see cref="Data"/> stays valid and fixed until
/// <see cref="Dispose"/>. Immutable: kernels read it from any thread.
/// </summary>
public sealed unsafe class QuantizedTensor : IDisposable
{
    private readonly long[] _shape;
    private readonly IDisposable? _owner;
    private byte* _data;

    private QuantizedTensor(GgmlType type, long[] shape, byte* data, IDisposable? owner)
    {
        Info = GgmlTypeInfo.Of(type);
        CheckShape(shape);
        _shape = (long[])shape.Clone();
        RowBytes = Info.RowBytes(shape[^1]);
        Rows = shape[..^1].Aggregate(1L, (a, b) => a * b);
        _data = data;
        _owner = owner;
    }

    public GgmlType Type => Info.Type;
    public GgmlTypeInfo Info { get; }
    public IReadOnlyList<long> Shape => _shape;

    /// <summary>Elements per row (the last dimension).</summary>
    public long RowLength => _shape[^1];
    public long Rows { get; }
    public long RowBytes { get; }
    public long ByteLength => Rows * RowBytes;
    public long ElementCount => Rows * RowLength;

    /// <summary>The first block; fixed in memory until disposed.</summary>
    public nint Data
    {
        get
        {
            ObjectDisposedException.ThrowIf(_data is null, this);
            return (nint)_data;
        }
    }

    /// <summary>The blocks of one row.</summary>
    public ReadOnlySpan<byte> Row(long row)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(row);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(row, Rows);
        return new ReadOnlySpan<byte>((byte*)Data + row * RowBytes, checked((int)RowBytes));
    }

    /// <summary>A copy of <paramref name="blocks"/> (exactly the tensor's bytes) in memory of its own.</summary>
    public static QuantizedTensor FromBlocks(GgmlType type, long[] shape, ReadOnlySpan<byte> blocks)
    {
        var tensor = Allocate(type, shape);
        if (blocks.Length != tensor.ByteLength)
        {
            tensor.Dispose();
            throw new ArgumentException($"{tensor.Info.Name} [{string.Join(", ", shape)}] takes {tensor.ByteLength} bytes, not {blocks.Length}");
        }
        blocks.CopyTo(new Span<byte>(tensor._data, blocks.Length));
        return tensor;
    }

    /// <summary>Quantizes row-major <paramref name="values"/> of <paramref name="shape"/> with ggml's
    /// reference quantizer for <paramref name="type"/>.</summary>
    public static QuantizedTensor Quantize(GgmlType type, long[] shape, ReadOnlySpan<float> values)
    {
        var tensor = Allocate(type, shape);
        if (values.Length != tensor.ElementCount)
        {
            tensor.Dispose();
            throw new ArgumentException($"shape [{string.Join(", ", shape)}] holds {tensor.ElementCount} values, not {values.Length}");
        }
        fixed (float* source = values)
        {
            float* x = source;
            Parallel.For(0, tensor.Rows, row => GgmlQuantizer.Quantize(type,
                new ReadOnlySpan<float>(x + row * tensor.RowLength, (int)tensor.RowLength),
                new Span<byte>(tensor._data + row * tensor.RowBytes, (int)tensor.RowBytes)));
        }
        return tensor;
    }

    /// <summary>A view of bytes someone else owns (a mapped file); <paramref name="owner"/> is disposed
    /// with this tensor and must keep the bytes valid until then.</summary>
    internal static QuantizedTensor View(GgmlType type, long[] shape, byte* data, IDisposable owner) =>
        new(type, shape, data, owner);

    /// <summary>Decodes every element, row-major, into <paramref name="output"/> (float32, exact).</summary>
    public void Dequantize(Span<float> output)
    {
        if (output.Length != ElementCount)
            throw new ArgumentException($"{ElementCount} elements do not fit {output.Length}");
        fixed (float* target = output)
        {
            float* y = target;
            byte* data = (byte*)Data;
            Parallel.For(0, Rows, row => GgmlDequantizer.Dequantize(Type,
                new ReadOnlySpan<byte>(data + row * RowBytes, (int)RowBytes),
                new Span<float>(y + row * RowLength, (int)RowLength)));
        }
    }

    public void Dispose()
    {
        if (_data is null) return;
        if (_owner is null) NativeMemory.AlignedFree(_data);
        else _owner.Dispose();
        _data = null;
    }

    private static void CheckShape(long[] shape)
    {
        if (shape.Length == 0 || shape.Any(d => d <= 0))
            throw new ArgumentException($"shape [{string.Join(", ", shape)}] must have at least one dimension, all positive");
    }

    private static QuantizedTensor Allocate(GgmlType type, long[] shape)
    {
        var info = GgmlTypeInfo.Of(type);
        CheckShape(shape);
        long rows = shape[..^1].Aggregate(1L, (a, b) => a * b);
        long bytes = rows * info.RowBytes(shape[^1]);
        // 64-byte alignment: a cache line, and what AVX-512 loads like. A weight a decode step streams
        // (1 MiB or more) starts on a huge page and is advised for huge pages before it is written.
        if (bytes < HugePages.Bytes / 2)
            return new QuantizedTensor(type, shape, (byte*)NativeMemory.AlignedAlloc((nuint)Math.Max(bytes, 1), 64), null);
        long covered = (bytes + HugePages.Bytes - 1) / HugePages.Bytes * HugePages.Bytes;
        var data = (byte*)NativeMemory.AlignedAlloc((nuint)covered, (nuint)HugePages.Bytes);
        HugePages.Advise((IntPtr)data, covered);
        return new QuantizedTensor(type, shape, data, null);
    }
}
