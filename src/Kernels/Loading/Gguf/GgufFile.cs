using LlmEngine.Kernels.Quantization;

namespace LlmEngine.Kernels.Loading.Gguf;

/// <summary>
/// A GGUF file (versions 2 and 3, little-endian), memory-mapped:
/// <code>
/// "GGUF" | version u32 | tensor count u64 | kv count u64 | kv* | tensor info* | pad to alignment | data
/// kv:          key (u64 length + UTF-8) | value type u32 | value
/// tensor info: name | n_dims u32 | ne[n_dims] u64 (ne[0] = row length) | ggml type u32 | offset u64
/// </code>
/// Tensor offsets are relative to the data section, which starts at the first multiple of
/// <c>general.alignment</c> (default 32) after the header. Tensors are views of the mapping, so a file
/// larger than memory loads only what is read.
/// </summary>
internal sealed unsafe class GgufFile : IDisposable
{
    private const uint Magic = 0x46554747; // "GGUF" little-endian
    private const long DefaultAlignment = 32;
    private readonly MappedFile _file;
    private readonly Dictionary<string, GgufTensorInfo> _tensors;

    private GgufFile(MappedFile file, uint version, GgufMetadata metadata, Dictionary<string, GgufTensorInfo> tensors, long dataOffset)
    {
        _file = file;
        Version = version;
        Metadata = metadata;
        _tensors = tensors;
        DataOffset = dataOffset;
    }

    public string Path => _file.Path;
    public uint Version { get; }
    public GgufMetadata Metadata { get; }
    public IReadOnlyDictionary<string, GgufTensorInfo> Tensors => _tensors;
    public long DataOffset { get; }

    public static GgufFile Open(string path)
    {
        var file = MappedFile.Open(path);
        try
        {
            return Parse(file);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>A view of the named tensor's blocks; the file stays mapped until the view is disposed.
    /// Types this engine cannot decode are an error naming the tensor and type.</summary>
    public QuantizedTensor Tensor(string name)
    {
        var info = Info(name);
        if (!GgmlTypeInfo.IsSupported(info.Type))
            throw new ModelLoadException($"{Path}: tensor '{name}' has ggml type {GgmlTypeInfo.Describe(info.Type)}, which this engine cannot decode (supported: {string.Join(", ", GgmlTypeInfo.Supported.Select(t => t.Name))})");
        return QuantizedTensor.View(info.Type, info.Shape, _file.Pointer(info.Offset), _file.Lease());
    }

    public GgufTensorInfo Info(string name) => _tensors.TryGetValue(name, out var info)
        ? info
        : throw new ModelLoadException($"{Path}: no tensor named '{name}'");

    public void Dispose() => _file.Dispose();

    private static GgufFile Parse(MappedFile file)
    {
        var cursor = new GgufCursor(file);
        if (file.Length < 8 || cursor.UInt32() != Magic)
            throw new ModelLoadException($"{file.Path}: not a GGUF file (no 'GGUF' magic)");
        uint version = cursor.UInt32();
        if (version is not (2 or 3))
        {
            string why = version == 1 ? "GGUF v1 (32-bit counts) is obsolete; reconvert the model"
                : (version & 0xFFFF) == 0 ? "a big-endian GGUF file; only little-endian files are supported"
                : "unknown version";
            throw new ModelLoadException($"{file.Path}: GGUF version {version} is not supported ({why})");
        }
        // Each tensor info takes at least 28 bytes, each kv at least 12: counts beyond that are corrupt.
        int tensorCount = cursor.Count("tensor count", 28);
        int kvCount = cursor.Count("metadata count", 12);

        var values = new Dictionary<string, object>(kvCount, StringComparer.Ordinal);
        for (int i = 0; i < kvCount; i++)
        {
            string key = cursor.String();
            var value = cursor.Value((GgufValueType)cursor.UInt32());
            if (!values.TryAdd(key, value))
                throw cursor.Corrupt($"metadata key '{key}' appears twice");
        }
        var metadata = new GgufMetadata(file.Path, values);
        long alignment = metadata.IntegerOrNull("general.alignment") ?? DefaultAlignment;
        if (alignment <= 0 || (alignment & (alignment - 1)) != 0)
            throw new ModelLoadException($"{file.Path}: general.alignment {alignment} is not a power of two");

        var raw = new List<(string Name, GgmlType Type, long[] Shape, ulong Offset)>(tensorCount);
        for (int i = 0; i < tensorCount; i++)
        {
            string name = cursor.String();
            uint dims = cursor.UInt32();
            if (dims is 0 or > 4)
                throw cursor.Corrupt($"tensor '{name}' has {dims} dimensions (1 to 4 allowed)");
            var ne = new long[dims];
            for (int d = 0; d < dims; d++)
            {
                ulong n = cursor.UInt64();
                if (n == 0 || n > int.MaxValue)
                    throw cursor.Corrupt($"tensor '{name}' has dimension {d} of {n}");
                ne[d] = (long)n;
            }
            raw.Add((name, (GgmlType)cursor.UInt32(), ne.Reverse().ToArray(), cursor.UInt64()));
        }
        cursor.AlignTo(alignment);
        long dataOffset = cursor.Position;

        var tensors = new Dictionary<string, GgufTensorInfo>(tensorCount, StringComparer.Ordinal);
        foreach (var (name, type, shape, offset) in raw)
        {
            if (offset % (ulong)alignment != 0)
                throw new ModelLoadException($"{file.Path}: tensor '{name}' data offset {offset} is not a multiple of the alignment {alignment}");
            var info = new GgufTensorInfo(name, type, shape, dataOffset + (long)Math.Min(offset, (ulong)file.Length));
            // Sizes are known only for types we decode; others are refused when (if) they are read.
            if (GgmlTypeInfo.IsSupported(type))
            {
                var layout = GgmlTypeInfo.Of(type);
                if (shape[^1] % layout.BlockElements != 0)
                    throw new ModelLoadException($"{file.Path}: tensor '{name}' rows of {shape[^1]} are not whole {layout.Name} blocks of {layout.BlockElements}");
                Int128 bytes = (Int128)(info.ElementCount / shape[^1]) * layout.RowBytes(shape[^1]);
                if (info.Offset + bytes > file.Length)
                    throw new ModelLoadException($"{file.Path}: tensor '{name}' ({layout.Name} [{string.Join(", ", shape)}]) ends past the end of the file; truncated download?");
            }
            if (!tensors.TryAdd(name, info))
                throw new ModelLoadException($"{file.Path}: tensor '{name}' appears twice");
        }
        return new GgufFile(file, version, metadata, tensors, dataOffset);
    }
}
