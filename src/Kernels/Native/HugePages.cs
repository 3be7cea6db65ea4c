using TorchSharp;
using static TorchSharp.torch;

namespace LlmEngine.Kernels.Native;

/// <summary>
/// Weights on 2 MiB pages (kernels/huge_pages.cpp). A decode step streams every weight once; on
/// 4 KiB pages the stream takes a TLB miss (a two-level page walk under a hypervisor) every 4 KiB,
/// which measured 7-25% off the bandwidth one core reaches on the project's machine. Linux backs
/// memory advised with MADV_HUGEPAGE by huge pages when transparent huge pages are "madvise" or
/// "always"; elsewhere this does nothing. LLM_HUGE_PAGES=0 turns it off.
/// </summary>
internal static unsafe class HugePages
{
    /// <summary>The size of a huge page (x86-64's 2 MiB).</summary>
    public const long Bytes = 2L << 20;

    /// <summary>Advises the whole huge pages inside a CPU tensor's memory and collapses those already
    /// in memory now (Linux 6.1+). Returns the bytes advised (0 where nothing was).</summary>
    public static long Advise(Tensor tensor)
    {
        if (tensor.device_type != DeviceType.CPU || !tensor.is_contiguous() || !NativeKernels.IsAvailable) return 0;
        long advised = Call(TensorMemory.DataPointer(tensor), tensor.numel() * tensor.ElementSize);
        GC.KeepAlive(tensor);
        return Math.Max(0, advised);
    }

    /// <summary>
    /// A copy of <paramref name="weight"/> that starts on a huge-page boundary, in memory whose huge
    /// pages cover all of it (the tail's page too), advised before it is written; or the weight
    /// itself, advised where it lies, when it is under a huge page, off the CPU or when the advice is
    /// off. Advising in place covers only the whole huge pages inside a tensor: about half of a
    /// 110M-parameter model's layer weights. The caller disposes <paramref name="weight"/> when a copy
    /// comes back.
    /// </summary>
    public static Tensor Place(Tensor weight)
    {
        long bytes = weight.numel() * weight.ElementSize;
        if (bytes < Bytes / 2 || weight.device_type != DeviceType.CPU || !weight.is_contiguous() || !NativeKernels.IsAvailable
            || Call(IntPtr.Zero, 0) < 0)
        {
            Advise(weight);
            return weight;
        }
        long covered = (bytes + Bytes - 1) / Bytes * Bytes;
        using var slab = empty(new[] { (covered + Bytes) / weight.ElementSize }, dtype: weight.dtype);
        long start = TensorMemory.DataPointer(slab);
        long skip = (Bytes - start % Bytes) % Bytes;
        // Untouched yet: advised first, the copy faults in huge pages; collapsed again after, for
        // memory the allocator had recycled.
        Call((IntPtr)(start + skip), covered);
        using var flat = slab.narrow(0, skip / weight.ElementSize, weight.numel());
        // The weight outlives any dispose scope of its loader.
        var placed = flat.view(weight.shape).DetachFromDisposeScope();
        placed.copy_(weight);
        Call((IntPtr)(start + skip), covered);
        return placed;
    }

    /// <summary>Advises the whole huge pages inside native memory [start, start + bytes) (see
    /// <see cref="Advise(Tensor)"/>); returns the bytes advised, 0 where nothing was.</summary>
    public static long Advise(IntPtr start, long bytes) => NativeKernels.IsAvailable ? Math.Max(0, Call(start, bytes)) : 0;

    // -1 when the advice is off (LLM_HUGE_PAGES=0); a null range asks only that.
    private static long Call(IntPtr start, long bytes) =>
        ((delegate* unmanaged<IntPtr, long, long>)NativeKernels.Export("llm_advise_huge_pages"))(start, bytes);
}
