using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace LlmEngine.Kernels.Native;

/// <summary>
/// New CPU tensors of 128 KiB or more whose memory comes from a cache of blocks that stay mapped
/// (kernels/tensor_buffers.cpp): glibc returns freed blocks that large to the kernel, and on the project's
/// VM the next first touch of each 4 KiB page costs ~15 us, a third of a prompt step's matrix products.
/// The tensor gives its block back to the cache when libtorch frees its storage. Its storage cannot be
/// resized (as any tensor over given memory); smaller tensors, and all with LLM_TENSOR_CACHE_MB=0, are plain
/// <c>empty</c> ones.
/// </summary>
public static unsafe partial class RecycledTensors
{
    private static delegate* unmanaged<long, IntPtr> _take;
    private static IntPtr _give;

    [LibraryImport("LibTorchSharp", EntryPoint = "THSTensor_new")]
    private static partial IntPtr THSTensor_new(IntPtr data, IntPtr deleter, long* sizes, int dims, sbyte scalarType, sbyte dtype,
        int deviceType, int deviceIndex, [MarshalAs(UnmanagedType.U1)] bool requiresGrad);

    /// <summary>An uninitialized contiguous CPU tensor [rows, columns] of <paramref name="dtype"/>.</summary>
    public static Tensor Empty(long rows, long columns, ScalarType dtype) => Empty([rows, columns], dtype);

    /// <summary>An uninitialized contiguous CPU tensor of the given sizes and <paramref name="dtype"/>.</summary>
    public static Tensor Empty(ReadOnlySpan<long> sizes, ScalarType dtype)
    {
        if (_take == null)
        {
            if (!NativeKernels.IsAvailable) return empty(sizes.ToArray(), dtype: dtype);
            _give = NativeKernels.Export("llm_tensor_buffer_give");
            _take = (delegate* unmanaged<long, IntPtr>)NativeKernels.Export("llm_tensor_buffer_take");
        }
        long elements = 1;
        foreach (long size in sizes) elements *= size;
        IntPtr data = _take(elements * ElementSize(dtype));
        if (data == IntPtr.Zero) return empty(sizes.ToArray(), dtype: dtype);
        IntPtr handle;
        fixed (long* dims = sizes)
            handle = THSTensor_new(data, _give, dims, sizes.Length, (sbyte)dtype, (sbyte)dtype, (int)DeviceType.CPU, -1, false);
        if (handle == IntPtr.Zero)
        {
            ((delegate* unmanaged<IntPtr, void>)_give)(data);
            throw new InvalidOperationException($"THSTensor_new failed for a [{string.Join(", ", sizes.ToArray())}] {dtype} tensor");
        }
        return Tensor.UnsafeCreateTensor(handle);
    }

    private static long ElementSize(ScalarType dtype) => dtype switch
    {
        ScalarType.Float32 => 4,
        ScalarType.BFloat16 or ScalarType.Float16 => 2,
        _ => throw new ArgumentException($"RecycledTensors: {dtype} tensors are not made here"),
    };
}
