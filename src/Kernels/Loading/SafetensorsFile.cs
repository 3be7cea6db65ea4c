using TorchSharp;

namespace LlmEngine.Kernels.Loading;

/// <summary>One <c>.safetensors</c> file, memory-mapped; the header is checked when opened and a
/// tensor's bytes are read only when it is loaded.</summary>
internal sealed class SafetensorsFile : IWeightSource
{
    private readonly MappedFile _file;
    private readonly SafetensorsHeader _header;

    public SafetensorsFile(string path)
    {
        _file = MappedFile.Open(path);
        try
        {
            _header = SafetensorsHeader.Read(_file);
        }
        catch
        {
            _file.Dispose();
            throw;
        }
    }

    public string Path => _file.Path;

    /// <summary>The optional <c>__metadata__</c> strings (e.g. <c>format: pt</c>).</summary>
    public IReadOnlyDictionary<string, string> Metadata => _header.Metadata;

    public IReadOnlyCollection<string> Names => _header.Names;

    public bool Contains(string name) => _header.Entries.ContainsKey(name);

    public long[] Shape(string name) => (long[])Entry(name).Shape.Clone();

    /// <summary>The dtype as stored, in safetensors spelling (<c>F32</c>, <c>BF16</c>, ...).</summary>
    public string StoredDType(string name) => Entry(name).DType;

    public torch.Tensor Load(string name, torch.ScalarType dtype)
    {
        var entry = Entry(name);
        if (!SafetensorsDTypes.TryScalarType(entry.DType, out var stored))
            throw new ModelLoadException($"{Path}: tensor '{name}' has dtype {entry.DType}, which cannot be loaded (supported: F32, F16, BF16, F64)");
        return _file.ReadTensor(entry.Offset, entry.Shape, stored, dtype);
    }

    public void Dispose() => _file.Dispose();

    private SafetensorsEntry Entry(string name) =>
        _header.Entries.TryGetValue(name, out var entry)
            ? entry
            : throw new ModelLoadException($"{Path}: no tensor named '{name}'");
}
