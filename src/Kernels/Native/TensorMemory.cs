using System.Runtime.InteropServices;
using TorchSharp;

namespace LlmEngine.Kernels.Native;

/// <summary>Raw access to a CPU tensor's memory for loaders and writers. TorchSharp 0.107 has no
/// public <c>data_ptr()</c>, and its <c>Tensor.bytes</c> span is limited to 2 GiB, which a large
/// embedding table exceeds; so we ask LibTorchSharp for the pointer as TorchSharp itself does.</summary>
internal static unsafe partial class TensorMemory
{
    [LibraryImport("LibTorchSharp", EntryPoint = "THSTensor_data")]
    private static partial IntPtr THSTensor_data(IntPtr tensor);

    /// <summary>The first element of a contiguous CPU tensor.</summary>
    public static IntPtr DataPointer(torch.Tensor tensor) => THSTensor_data(tensor.Handle);

    /// <summary>A new CPU tensor of <paramref name="dtype"/> filled from <paramref name="source"/>
    /// with one memcpy; the caller has checked that the source holds numel * element size bytes.</summary>
    public static torch.Tensor Copy(byte* source, long[] shape, torch.ScalarType dtype)
    {
        var tensor = torch.empty(shape, dtype: dtype);
        long bytes = tensor.numel() * tensor.ElementSize;
        if (bytes > 0)
            Buffer.MemoryCopy(source, (void*)THSTensor_data(tensor.Handle), bytes, bytes);
        return tensor;
    }

    /// <summary>Writes the tensor's elements, row-major, in its own dtype.</summary>
    public static void Write(torch.Tensor tensor, Stream stream)
    {
        // The scope frees the copies cpu()/contiguous() make, and leaves the caller's tensor alone
        // when they return it unchanged.
        using var scope = torch.NewDisposeScope();
        var cpu = tensor.cpu().contiguous();
        byte* data = (byte*)THSTensor_data(cpu.Handle);
        long bytes = cpu.numel() * cpu.ElementSize;
        // A span holds at most int.MaxValue bytes; write large tensors in chunks.
        const int chunk = 1 << 30;
        for (long done = 0; done < bytes; done += chunk)
            stream.Write(new ReadOnlySpan<byte>(data + done, (int)Math.Min(chunk, bytes - done)));
    }
}
