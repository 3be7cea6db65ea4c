using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace LlmEngine.Kernels.Native;

/// <summary>
/// A float32 or bfloat16 weight [n, k] repacked once, at load, for the packed GEMM (kernels/dense_gemm.h):
/// per 16 output columns and step of k (one float32, or a pair of bfloat16), one 64-byte vector holding
/// each column's weights, so one FMA (or AVX512_BF16 dot product) with the step's activations broadcast
/// advances 16 outputs. Native memory of its own (the same bytes as the dense weight, rounded up to 16
/// columns and, for bfloat16, an even k), freed on dispose. Computes every row count, each output summed
/// in k order whatever the batch: memory-bound decode steps and prompt chunks alike.
/// </summary>
public sealed unsafe class PackedDenseWeight : SafeHandle
{
    private static delegate* unmanaged<IntPtr, long, int, IntPtr, long, long, long, IntPtr, int, int> _gemm;

    private PackedDenseWeight(IntPtr handle, ScalarType dtype, long rows, long rowLength) : base(IntPtr.Zero, ownsHandle: true)
    {
        SetHandle(handle);
        DType = dtype;
        Rows = rows;
        RowLength = rowLength;
    }

    /// <summary>The weight's dtype, which x must have: float32 or bfloat16.</summary>
    public ScalarType DType { get; }
    public long Rows { get; }
    public long RowLength { get; }
    public override bool IsInvalid => handle == IntPtr.Zero;

    /// <summary>Whether the packed GEMM runs here for <paramref name="dtype"/>: the native library loaded and
    /// the kernels run at AVX-512 (bfloat16: and the CPU has AVX512_BF16).</summary>
    public static bool IsAvailable(ScalarType dtype) =>
        dtype is ScalarType.Float32 or ScalarType.BFloat16 && NativeKernels.IsAvailable
        && ((delegate* unmanaged<int, int>)NativeKernels.Export("llm_dense_gemm_available"))(dtype == ScalarType.Float32 ? 1 : 0) != 0;

    /// <summary>A packed copy of a contiguous float32 or bfloat16 CPU <paramref name="weight"/> [n, k], or null
    /// where <see cref="IsAvailable"/> is false or the tensor is not such a weight.</summary>
    public static PackedDenseWeight? TryPack(Tensor weight)
    {
        if (weight.dim() != 2 || weight.device_type != DeviceType.CPU || !weight.is_contiguous() || !IsAvailable(weight.dtype))
            return null;
        var pack = (delegate* unmanaged<IntPtr, int, long, long, IntPtr>)NativeKernels.Export("llm_pack_dense");
        IntPtr packed = pack(TensorMemory.DataPointer(weight), weight.dtype == ScalarType.Float32 ? 1 : 0, weight.shape[0], weight.shape[1]);
        GC.KeepAlive(weight);
        if (packed == IntPtr.Zero) throw new ArgumentException($"llm_pack_dense: {NativeKernels.TakeLastError()}");
        _gemm = (delegate* unmanaged<IntPtr, long, int, IntPtr, long, long, long, IntPtr, int, int>)NativeKernels.Export("llm_dense_gemm");
        return new PackedDenseWeight(packed, weight.dtype, weight.shape[0], weight.shape[1]);
    }

    /// <summary>Whether bfloat16 products run on AMX tiles here (an Intel CPU with AMX-BF16, <c>LLM_AMX</c> not 0):
    /// every row count, each output summed as the tiles sum (not the AVX-512 kernel's bits).</summary>
    public static bool AmxEnabled => NativeKernels.IsAvailable && ((delegate* unmanaged<int>)NativeKernels.Export("llm_dense_amx_enabled"))() != 0;

    /// <summary>output [m, n] = x [m, k] · Wᵀ: x a contiguous CPU tensor of the weight's dtype; output
    /// contiguous, float32 (the sums as they are) or, for a bfloat16 weight, bfloat16 (rounded once, to nearest even).
    /// <paramref name="kernel"/> names a kernel, to compare them (AMX only where <see cref="AmxEnabled"/>).</summary>
    public void Apply(Tensor output, Tensor x, DenseKernel kernel = DenseKernel.Auto)
    {
        if (x.dim() != 2 || output.dim() != 2 || x.size(1) != RowLength || output.size(0) != x.size(0) || output.size(1) != Rows)
            throw new ArgumentException($"llm_dense_gemm: x [{string.Join(", ", x.shape)}], weight [{Rows}, {RowLength}] and out [{string.Join(", ", output.shape)}] do not fit");
        if (x.dtype != DType || output.dtype != ScalarType.Float32 && output.dtype != DType || x.device_type != DeviceType.CPU
            || output.device_type != DeviceType.CPU || !x.is_contiguous() || !output.is_contiguous())
            throw new ArgumentException($"llm_dense_gemm: x must be a contiguous {DType} CPU tensor and out a contiguous {DType} or float32 one");
        Run(output, x, x.size(0), output.dtype == ScalarType.Float32, kernel);
    }

    /// <summary><see cref="Apply"/> without its checks, for a caller that knows x is a contiguous CPU tensor
    /// [rows, k] of the weight's dtype and output a new contiguous one [rows, n], float32 when the weight is or
    /// <paramref name="float32Output"/> (a decode step's per-call cost).</summary>
    internal void Run(Tensor output, Tensor x, long rows, bool float32Output = false, DenseKernel kernel = DenseKernel.Auto)
    {
        int rc = _gemm(TensorMemory.DataPointer(output), Rows, float32Output || DType == ScalarType.Float32 ? 1 : 0, TensorMemory.DataPointer(x), RowLength, rows, RowLength, handle,
            (int)kernel);
        GC.KeepAlive(output);
        GC.KeepAlive(x);
        GC.KeepAlive(this);
        if (rc != 0) throw new ArgumentException($"llm_dense_gemm: {NativeKernels.TakeLastError()}");
    }

    /// <summary>The dense weight [n, k] back (a new tensor), for code that needs it as a tensor.</summary>
    public Tensor Unpack()
    {
        var dense = empty(new[] { Rows, RowLength }, dtype: DType);
        ((delegate* unmanaged<IntPtr, IntPtr, void>)NativeKernels.Export("llm_unpack_dense"))(handle, TensorMemory.DataPointer(dense));
        GC.KeepAlive(this);
        return dense;
    }

    protected override bool ReleaseHandle()
    {
        ((delegate* unmanaged<IntPtr, void>)NativeKernels.Export("llm_free_dense"))(handle);
        return true;
    }
}

/// <summary>Which kernel computes a packed bfloat16 product (kernels/dense_gemm.h): the one this machine uses, or one named.</summary>
public enum DenseKernel
{
    Auto = 0,
    Avx512 = 1,
    Amx = 2,
}
