using System.Runtime.InteropServices;
using LlmEngine.Kernels.Native;
using static TorchSharp.torch;

namespace LlmEngine.Tests.Kernels;

/// <summary>
/// A step's tensors are freed and the next step allocates the same sizes again: with the kernels'
/// library loaded, freed memory stays mapped (kernels/freed_memory.cpp), so the next step's tensors
/// do not fault in fresh zeroed pages one by one.
/// </summary>
public sealed partial class FreedMemoryTests
{
    [LibraryImport("libc", EntryPoint = "mincore", SetLastError = true)]
    private static unsafe partial int MinCore(IntPtr address, nuint length, byte* residency);

    private const int ENOMEM = 12;

    [Fact]
    public void AFreedTensorsPagesStayInMemory()
    {
        NativeKernels.EnsureAvailable();
        const long floats = 6L << 20;  // 24 MiB: above glibc's default thresholds, under 32 MiB
        IntPtr start;
        using (var freed = ones(floats)) start = TensorMemory.DataPointer(freed);
        Assert.Equal(1.0, ResidentShare(start, floats * sizeof(float)));
    }

    /// <summary>The share of the whole pages in [start, start + bytes) that are in memory now (none
    /// where the range is no longer mapped).</summary>
    private static unsafe double ResidentShare(IntPtr start, long bytes)
    {
        long page = Environment.SystemPageSize;
        long first = ((long)start + page - 1) / page * page, end = ((long)start + bytes) / page * page;
        var pages = (int)((end - first) / page);
        var residency = new byte[pages];
        fixed (byte* r = residency)
            if (MinCore((IntPtr)first, (nuint)(end - first), r) != 0)
                return Marshal.GetLastPInvokeError() == ENOMEM ? 0 : throw new InvalidOperationException($"mincore failed: errno {Marshal.GetLastPInvokeError()}");
        return residency.Count(b => (b & 1) != 0) / (double)pages;
    }
}
