using LlmEngine.Kernels.Native;
using TorchSharp;
using static TorchSharp.torch;

namespace LlmEngine.Kernels.Sharding;

/// <summary>Thrown by a rank's all-reduce when another rank of its group failed in the same step.</summary>
internal sealed class AllReduceAbortedException() : Exception("the all-reduce was aborted: another tensor-parallel rank failed in this step");

/// <summary>
/// The all-reduce of the tensor-parallel ranks of one process, in the native library over shared
/// memory (as vLLM's CPU backend does): each rank thread hands over its partial sums in place, and
/// returns once every rank's buffer holds the total, summed in rank order (so all ranks agree to the bit).
/// </summary>
public sealed unsafe class SharedMemoryAllReduce : IAllReduce, IDisposable
{
    private IntPtr _group;

    public SharedMemoryAllReduce(int ranks)
    {
        NativeKernels.EnsureAvailable();
        Ranks = ranks;
        _group = ((delegate* unmanaged<int, IntPtr>)NativeKernels.Export("llm_all_reduce_create"))(ranks);
        if (_group == IntPtr.Zero) throw new ArgumentOutOfRangeException(nameof(ranks), ranks, "a group needs at least one rank");
    }

    public int Ranks { get; }

    /// <summary>Sums <paramref name="partial"/> (a contiguous CPU tensor, float32 or bfloat16, the same
    /// shape on every rank) over the ranks, in place.</summary>
    public void Sum(int rank, Tensor partial)
    {
        if (partial.device_type != DeviceType.CPU || !partial.is_contiguous() || partial.dtype is not (ScalarType.Float32 or ScalarType.BFloat16))
            throw new ArgumentException("all-reduce: expected a contiguous float32 or bfloat16 CPU tensor");
        int rc = ((delegate* unmanaged<IntPtr, int, IntPtr, int, long, int>)NativeKernels.Export("llm_all_reduce"))(
            _group, rank, TensorMemory.DataPointer(partial), partial.dtype == ScalarType.BFloat16 ? 1 : 0, partial.numel());
        GC.KeepAlive(partial);
        if (rc == 1) throw new AllReduceAbortedException();
        if (rc != 0) throw new InvalidOperationException($"all-reduce: {NativeKernels.TakeLastError()}");
    }

    /// <summary>Wakes every rank waiting in <see cref="Sum"/> (they throw <see cref="AllReduceAbortedException"/>):
    /// a rank that failed calls it so that no other rank waits forever.</summary>
    public void Abort() => ((delegate* unmanaged<IntPtr, void>)NativeKernels.Export("llm_all_reduce_abort"))(_group);

    /// <summary>Clears an abort before the next step; no rank may be inside <see cref="Sum"/>.</summary>
    public void Reset() => ((delegate* unmanaged<IntPtr, void>)NativeKernels.Export("llm_all_reduce_reset"))(_group);

    public void Dispose()
    {
        if (_group == IntPtr.Zero) return;
        ((delegate* unmanaged<IntPtr, void>)NativeKernels.Export("llm_all_reduce_destroy"))(_group);
        _group = IntPtr.Zero;
    }
}
