using System.Runtime.InteropServices;
using LlmEngine.Kernels.Quantization;

namespace LlmEngine.Kernels.Native;

/// <summary>
/// A Q8_0, Q4_0 or K-quant (Q4_K, Q5_K, Q6_K) weight repacked once, at load, for the AVX-512 VNNI kernels:
/// rows in groups of 16 so that one integer dot product advances 16 rows at once and a decode step reads
/// each weight byte once with no shuffles (layout in kernels/packed_linear.h). Native memory of its own,
/// freed on dispose; the same bytes as the blocks it came from (float16 scales, 4- to 8-bit quants; the
/// K-quants' 6-bit sub-block scales and mins as bytes, up to 3% more).
/// </summary>
public sealed unsafe class PackedQuantizedWeight : SafeHandle
{
    private PackedQuantizedWeight(IntPtr handle, GgmlType type, long rows, long rowLength) : base(IntPtr.Zero, ownsHandle: true)
    {
        SetHandle(handle);
        Type = type;
        Rows = rows;
        RowLength = rowLength;
    }

    public GgmlType Type { get; }
    public long Rows { get; }
    public long RowLength { get; }
    public override bool IsInvalid => handle == IntPtr.Zero;

    /// <summary>Whether <paramref name="type"/> can be packed here (the native library loaded, the CPU has AVX-512 VNNI).</summary>
    public static bool CanPack(GgmlType type) =>
        NativeKernels.IsAvailable && ((delegate* unmanaged<int, int>)NativeKernels.Export("llm_packable"))((int)type) != 0;

    /// <summary>A packed copy of <paramref name="blocks"/>, or null where <see cref="CanPack"/> is false.</summary>
    public static PackedQuantizedWeight? TryPack(QuantizedTensor blocks)
    {
        if (blocks.Shape.Count != 2 || !CanPack(blocks.Type)) return null;
        var pack = (delegate* unmanaged<IntPtr, int, long, long, IntPtr>)NativeKernels.Export("llm_pack_quantized");
        IntPtr packed = pack(blocks.Data, (int)blocks.Type, blocks.Rows, blocks.RowLength);
        GC.KeepAlive(blocks);
        if (packed == IntPtr.Zero) throw new ArgumentException($"llm_pack_quantized: {NativeKernels.TakeLastError()}");
        return new PackedQuantizedWeight(packed, blocks.Type, blocks.Rows, blocks.RowLength);
    }

    protected override bool ReleaseHandle()
    {
        ((delegate* unmanaged<IntPtr, void>)NativeKernels.Export("llm_free_packed"))(handle);
        return true;
    }
}
