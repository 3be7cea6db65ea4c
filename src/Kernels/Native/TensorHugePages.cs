using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace LlmEngine.Kernels.Native;

/// <summary>
/// Tensors of 2 MiB and more on transparent huge pages: libtorch's CPU allocator advises them with
/// MADV_HUGEPAGE when its environment has THP_MEM_ALLOC_ENABLE=1 (read once, at libtorch's first
/// allocation), so this sets it before TorchSharp loads. A prompt step's temporaries (a 1,365-row
/// chunk of llama-110m: the projections' outputs, norms, SiLU, 12-22 MB each) come back from glibc as
/// fresh memory on every call, and on 4 KiB pages each page's first write faulted, one hypervisor trap
/// each: 14% of a Q4_0 prompt step's samples in perf, and half of its matmul section (the kernels'
/// first writes to their outputs). LLM_TENSOR_HUGE_PAGES=0 leaves libtorch's default, to compare.
/// </summary>
internal static partial class TensorHugePages
{
#pragma warning disable CA2255 // Must run before TorchSharp's first allocation, as TorchSharpScalarGuard's resolver.
    [ModuleInitializer]
#pragma warning restore CA2255
    internal static void Enable()
    {
        // .NET's Environment keeps a copy of its own: libtorch reads the C library's.
        if (OperatingSystem.IsLinux() && Environment.GetEnvironmentVariable("LLM_TENSOR_HUGE_PAGES") != "0")
            _ = SetEnv("THP_MEM_ALLOC_ENABLE", "1", overwrite: 0);
    }

    [LibraryImport("libc", EntryPoint = "setenv", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int SetEnv(string name, string value, int overwrite);
}
