using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace LlmEngine.Kernels.Native;

/// <summary>
/// A bfloat16 weight [n, k] repacked once, at load, for the AVX512_BF16 GEMM (kernels/bf16_gemm.h): per
/// 16 output columns and pair of k, one 64-byte vector holding each column's pair, so one dot-product
/// instruction with an activation pair broadcast advances 16 outputs. Native memory of its own (the same
/// bytes as the dense weight, rounded up to 16 columns and an even k), freed on dispose. Computes every
/// row count: memory-bound decode steps and prompt chunks alike.
/// </summary>
public sealed unsafe class PackedBFloat16Weight : SafeHandle
{
    private static delegate* unmanaged<IntPtr, long, int, IntPtr, long, long, long, IntPtr, int> _gemm;

    private PackedBFloat16Weight(IntPtr handle, long rows, long rowLength) : base(IntPtr.Zero, ownsHandle: true)
    {
        SetHandle(handle);
        Rows = rows;
        RowLength = rowLength;
    }

    public long Rows { get; }
    public long RowLength { get; }
    public override bool IsInvalid => handle == IntPtr.Zero;

    /// <summary>Whether the packed GEMM runs here: the native library loaded, the CPU has AVX512_BF16 and the
    /// kernels run at AVX-512.</summary>
    public static bool IsAvailable => NativeKernels.IsAvailable && ((delegate* unmanaged<int>)NativeKernels.Export("llm_bf16_gemm_available"))() != 0;

    /// <summary>A packed copy of a contiguous bfloat16 CPU <paramref name="weight"/> [n, k], or null where
    /// <see cref="IsAvailable"/> is false or the tensor is not such a weight.</summary>
    public static PackedBFloat16Weight? TryPack(Tensor weight)
    {
        if (weight.dim() != 2 || weight.dtype != ScalarType.BFloat16 || weight.device_type != DeviceType.CPU || !weight.is_contiguous() || !IsAvailable)
            return null;
        var pack = (delegate* unmanaged<IntPtr, long, long, IntPtr>)NativeKernels.Export("llm_pack_bf16");
        IntPtr packed = pack(TensorMemory.DataPointer(weight), weight.shape[0], weight.shape[1]);
        GC.KeepAlive(weight);
        if (packed == IntPtr.Zero) throw new ArgumentException($"llm_pack_bf16: {NativeKernels.TakeLastError()}");
        _gemm = (delegate* unmanaged<IntPtr, long, int, IntPtr, long, long, long, IntPtr, int>)NativeKernels.Export("llm_bf16_gemm");
        return new PackedBFloat16Weight(packed, weight.shape[0], weight.shape[1]);
    }

    /// <summary>output [m, n] = x [m, k] · Wᵀ: x a contiguous bfloat16 CPU tensor; output contiguous, bfloat16
    /// (rounded once, to nearest even) or float32 (the sums as they are).</summary>
    public void Apply(Tensor output, Tensor x)
    {
        if (x.dim() != 2 || output.dim() != 2 || x.size(1) != RowLength || output.size(0) != x.size(0) || output.size(1) != Rows)
            throw new ArgumentException($"llm_bf16_gemm: x [{string.Join(", ", x.shape)}], weight [{Rows}, {RowLength}] and out [{string.Join(", ", output.shape)}] do not fit");
        if (x.dtype != ScalarType.BFloat16 || output.dtype is not (ScalarType.BFloat16 or ScalarType.Float32) || x.device_type != DeviceType.CPU
            || output.device_type != DeviceType.CPU || !x.is_contiguous() || !output.is_contiguous())
            throw new ArgumentException("llm_bf16_gemm: x must be a contiguous bfloat16 CPU tensor and out a contiguous bfloat16 or float32 one");
        Run(output, x, x.size(0), output.dtype == ScalarType.Float32);
    }

    /// <summary><see cref="Apply"/> without its checks, for a caller that knows x is a contiguous bfloat16 CPU
    /// tensor [rows, k] and output a new contiguous one [rows, n] (a decode step's per-call cost).</summary>
    internal void Run(Tensor output, Tensor x, long rows, bool float32Output = false)
    {
        int rc = _gemm(TensorMemory.DataPointer(output), Rows, float32Output ? 1 : 0, TensorMemory.DataPointer(x), RowLength, rows, RowLength, handle);
        GC.KeepAlive(output);
        GC.KeepAlive(x);
        GC.KeepAlive(this);
        if (rc != 0) throw new ArgumentException($"llm_bf16_gemm: {NativeKernels.TakeLastError()}");
    }

    /// <summary>The dense weight [n, k] back (a new tensor), for code that needs it as a tensor.</summary>
    public Tensor Unpack()
    {
        var dense = empty(new[] { Rows, RowLength }, dtype: ScalarType.BFloat16);
        ((delegate* unmanaged<IntPtr, IntPtr, void>)NativeKernels.Export("llm_unpack_bf16"))(handle, TensorMemory.DataPointer(dense));
        GC.KeepAlive(this);
        return dense;
    }

    protected override bool ReleaseHandle()
    {
        ((delegate* unmanaged<IntPtr, void>)NativeKernels.Export("llm_free_bf16"))(handle);
        return true;
    }
}
