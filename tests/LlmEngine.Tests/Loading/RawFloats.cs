using System.Buffers.Binary;
using System.Runtime.InteropServices;
using TorchSharp;

namespace LlmEngine.Tests.Loading;

/// <summary>Reads expectations straight from file bytes, independently of the loaders.</summary>
internal static class RawFloats
{
    public static float[] At(string path, long byteOffset, int count)
    {
        using var stream = File.OpenRead(path);
        stream.Position = byteOffset;
        var bytes = new byte[count * 4];
        stream.ReadExactly(bytes);
        var floats = new float[count];
        for (int i = 0; i < count; i++) floats[i] = BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan(4 * i));
        return floats;
    }

    public static byte[] Bytes(string path, long byteOffset, long count)
    {
        using var stream = File.OpenRead(path);
        stream.Position = byteOffset;
        var bytes = new byte[count];
        stream.ReadExactly(bytes);
        return bytes;
    }

    /// <summary>A contiguous CPU tensor's elements as bytes in its own dtype.</summary>
    public static byte[] BytesOf(torch.Tensor tensor) => tensor.bytes.ToArray();

    /// <summary>Same dtype, shape and bits (TorchSharp's <c>equal</c> is element-wise).</summary>
    public static bool Same(torch.Tensor a, torch.Tensor b) =>
        a.dtype == b.dtype && a.shape.SequenceEqual(b.shape) && BytesOf(a).AsSpan().SequenceEqual(BytesOf(b));

    public static byte[] BytesOf(float[] values) => MemoryMarshal.AsBytes(values.AsSpan()).ToArray();
}
