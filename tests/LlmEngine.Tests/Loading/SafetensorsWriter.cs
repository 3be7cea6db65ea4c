using LlmEngine.Kernels.Loading;
using LlmEngine.Kernels.Native;
using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using TorchSharp;

namespace LlmEngine.Tests.Loading;

/// <summary>Writes tensors (F32, F16, BF16, F64, each in its own dtype) to one safetensors file,
/// for tests and for making tiny models. Tensors are laid out in name order.</summary>
public static class SafetensorsWriter
{
    public static void Write(string path, IReadOnlyDictionary<string, torch.Tensor> tensors)
    {
        var names = tensors.Keys.Order(StringComparer.Ordinal).ToList();
        byte[] header = Header(names, tensors);

        using var stream = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None);
        Span<byte> length = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)header.Length);
        stream.Write(length);
        stream.Write(header);
        foreach (string name in names)
            TensorMemory.Write(tensors[name], stream);
    }

    private static byte[] Header(List<string> names, IReadOnlyDictionary<string, torch.Tensor> tensors)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            // transformers refuses safetensors checkpoints whose metadata lacks a known format.
            json.WriteStartObject("__metadata__");
            json.WriteString("format", "pt");
            json.WriteEndObject();
            long offset = 0;
            foreach (string name in names)
            {
                var tensor = tensors[name];
                long bytes = tensor.numel() * tensor.ElementSize;
                json.WriteStartObject(name);
                json.WriteString("dtype", SafetensorsDTypes.Name(tensor.dtype));
                json.WriteStartArray("shape");
                foreach (long dim in tensor.shape) json.WriteNumberValue(dim);
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                json.WriteNumberValue(offset + bytes);
                json.WriteEndArray();
                json.WriteEndObject();
                offset += bytes;
            }
            json.WriteEndObject();
        }
        // The spec lets the header end in spaces; padding to 8 bytes keeps the data aligned.
        int padding = (int)(-buffer.Length & 7);
        buffer.Write(Encoding.ASCII.GetBytes(new string(' ', padding)));
        return buffer.ToArray();
    }
}
