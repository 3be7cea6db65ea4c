using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using TorchSharp;

namespace LlmEngine.Kernels.Native;

/// <summary>
/// Binds TorchSharp's P/Invokes to <c>libtorchsharp_scalar_guard.so</c>, which forwards every
/// symbol to TorchSharp's native library but defers the freeing of Scalars (why: scalar_guard/
/// scalar_guard.cpp). Without it a collection during a libtorch call can free a Scalar made by
/// an implicit conversion while the call still reads it, and the step fails at random under
/// load. Installed when this assembly loads, before TorchSharp binds its first P/Invoke; a no-op
/// where the guard was not built (its absence only brings the race back).
/// </summary>
internal static class TorchSharpScalarGuard
{
    private const string GuardFile = "libtorchsharp_scalar_guard.so";
    private static int _installed;

    /// <summary>Whether TorchSharp's native calls go through the guard.</summary>
    public static bool IsActive { get; private set; }

#pragma warning disable CA2255 // The resolver must be in place before any code binds a TorchSharp P/Invoke.
    [ModuleInitializer]
#pragma warning restore CA2255
    internal static void Install()
    {
        if (Interlocked.Exchange(ref _installed, 1) == 1 || !OperatingSystem.IsLinux()) return;
        string path = Path.Combine(AppContext.BaseDirectory, GuardFile);
        if (!File.Exists(path)) return;
        IntPtr guard = IntPtr.Zero;
        NativeLibrary.SetDllImportResolver(typeof(torch).Assembly, (name, _, _) =>
        {
            if (name != "LibTorchSharp") return IntPtr.Zero;
            // The guard's dependency is met by the library TorchSharp has loaded (same soname), or
            // else found beside it through the guard's run path.
            if (guard == IntPtr.Zero && NativeLibrary.TryLoad(path, out var loaded)) guard = loaded;
            IsActive = guard != IntPtr.Zero;
            return guard;
        });
    }
}
