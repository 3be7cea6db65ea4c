using System.Buffers.Binary;
using System.Text.Json;

namespace LlmEngine.Kernels.Loading;

/// <summary>One tensor's header entry; <see cref="Offset"/> is from the start of the file.</summary>
internal sealed record SafetensorsEntry(string DType, long[] Shape, long Offset, long ByteLength);

/// <summary>
/// The header of a safetensors file, checked against the file before any tensor is read:
/// <code>
/// | u64 LE: n | n bytes of JSON (may end in spaces) | data: tensors at data_offsets [begin, end) |
/// </code>
/// </summary>
internal sealed class SafetensorsHeader
{
    // The format's own limit; it also keeps the header small enough for one managed array.
    private const long MaxHeaderBytes = 100_000_000;

    private SafetensorsHeader(List<string> names, Dictionary<string, SafetensorsEntry> entries, Dictionary<string, string> metadata)
    {
        Names = names;
        Entries = entries;
        Metadata = metadata;
    }

    /// <summary>Tensor names in header order.</summary>
    public IReadOnlyList<string> Names { get; }
    public IReadOnlyDictionary<string, SafetensorsEntry> Entries { get; }
    public IReadOnlyDictionary<string, string> Metadata { get; }

    public static SafetensorsHeader Read(MappedFile file)
    {
        string path = file.Path;
        if (file.Length < 8)
            throw new ModelLoadException($"{path}: {file.Length} bytes is too short for a safetensors file");
        ulong headerBytes = BinaryPrimitives.ReadUInt64LittleEndian(file.Bytes(0, 8));
        if (headerBytes > (ulong)(file.Length - 8))
            throw new ModelLoadException($"{path}: header length {headerBytes} exceeds the {file.Length - 8} bytes after the length field (truncated or not safetensors)");
        if (headerBytes > MaxHeaderBytes)
            throw new ModelLoadException($"{path}: header length {headerBytes} exceeds the format's limit of {MaxHeaderBytes} bytes");

        long dataStart = 8 + (long)headerBytes;
        using var json = ParseJson(path, file.Bytes(8, (int)headerBytes).ToArray());
        if (json.RootElement.ValueKind != JsonValueKind.Object)
            throw new ModelLoadException($"{path}: header is JSON but not an object");

        var names = new List<string>();
        var entries = new Dictionary<string, SafetensorsEntry>(StringComparer.Ordinal);
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var property in json.RootElement.EnumerateObject())
        {
            if (property.Name == "__metadata__")
            {
                ReadMetadata(path, property.Value, metadata);
                continue;
            }
            var entry = ReadEntry(path, property.Name, property.Value, dataStart, file.Length - dataStart);
            if (!entries.TryAdd(property.Name, entry))
                throw new ModelLoadException($"{path}: tensor '{property.Name}' appears twice in the header");
            names.Add(property.Name);
        }
        return new SafetensorsHeader(names, entries, metadata);
    }

    private static JsonDocument ParseJson(string path, byte[] json)
    {
        try
        {
            return JsonDocument.Parse(json);
        }
        catch (JsonException e)
        {
            throw new ModelLoadException($"{path}: header is not valid JSON (line {(e.LineNumber ?? 0) + 1}, byte {(e.BytePositionInLine ?? 0) + 1})", e);
        }
    }

    private static void ReadMetadata(string path, JsonElement value, Dictionary<string, string> metadata)
    {
        if (value.ValueKind != JsonValueKind.Object)
            throw new ModelLoadException($"{path}: __metadata__ is not an object");
        foreach (var item in value.EnumerateObject())
        {
            if (item.Value.ValueKind != JsonValueKind.String)
                throw new ModelLoadException($"{path}: __metadata__ value '{item.Name}' is not a string");
            metadata[item.Name] = item.Value.GetString()!;
        }
    }

    private static SafetensorsEntry ReadEntry(string path, string name, JsonElement value, long dataStart, long dataLength)
    {
        ModelLoadException Malformed(string what) => new($"{path}: tensor '{name}' has {what}");

        if (value.ValueKind != JsonValueKind.Object)
            throw Malformed("a header entry that is not an object");
        if (!value.TryGetProperty("dtype", out var dtypeElement) || dtypeElement.ValueKind != JsonValueKind.String)
            throw Malformed("no string 'dtype'");
        string dtype = dtypeElement.GetString()!;
        long[] shape = ReadLongs(value, "shape") ?? throw Malformed("no 'shape' list of non-negative integers");
        long[] offsets = ReadLongs(value, "data_offsets") ?? throw Malformed("no 'data_offsets' list of non-negative integers");
        if (offsets.Length != 2 || offsets[0] > offsets[1])
            throw Malformed($"data_offsets [{string.Join(", ", offsets)}] that are not a [begin, end] pair");
        if (offsets[1] > dataLength)
            throw Malformed($"data_offsets [{offsets[0]}, {offsets[1]}] beyond the {dataLength} bytes of data (truncated file?)");

        long byteLength = offsets[1] - offsets[0];
        // Unknown dtypes are only rejected when loaded, so a file with one odd tensor stays usable.
        if (SafetensorsDTypes.ElementSize(dtype) is int elementSize)
        {
            long? expected = ByteCount(shape, elementSize);
            if (expected != byteLength)
                throw Malformed($"{byteLength} bytes but shape [{string.Join(", ", shape)}] of {dtype} needs {expected?.ToString() ?? "more than 2^63"}");
        }
        return new SafetensorsEntry(dtype, shape, dataStart + offsets[0], byteLength);
    }

    private static long[]? ReadLongs(JsonElement value, string property)
    {
        if (!value.TryGetProperty(property, out var list) || list.ValueKind != JsonValueKind.Array)
            return null;
        var result = new long[list.GetArrayLength()];
        int i = 0;
        foreach (var item in list.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.Number || !item.TryGetInt64(out result[i]) || result[i] < 0)
                return null;
            i++;
        }
        return result;
    }

    private static long? ByteCount(long[] shape, int elementSize)
    {
        try
        {
            long count = elementSize;
            foreach (long dim in shape) count = checked(count * dim);
            return count;
        }
        catch (OverflowException)
        {
            return null;
        }
    }
}
