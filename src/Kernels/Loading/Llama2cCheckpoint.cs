using TorchSharp;

namespace LlmEngine.Kernels.Loading;

/// <summary>A legacy llama2.c <c>.bin</c> checkpoint (7 int32 header, then float32 arrays),
/// memory-mapped and presented under Hugging Face LLaMA names (see <see cref="Llama2cLayout"/>).
/// Weights are as stored: llama2.c's interleaved-pair rotary is the model's concern, so no
/// rotary permutation is applied here.</summary>
internal sealed class Llama2cCheckpoint : IWeightSource
{
    private readonly MappedFile _file;
    private readonly Dictionary<string, Llama2cLayout.Entry> _entries = new(StringComparer.Ordinal);
    private readonly List<string> _names = [];

    public Llama2cCheckpoint(string path)
    {
        _file = MappedFile.Open(path);
        try
        {
            Header = ReadHeader(_file);
        }
        catch
        {
            _file.Dispose();
            throw;
        }
        foreach (var entry in Llama2cLayout.Entries(Header))
        {
            if (entry.Name is null) continue;
            _entries.Add(entry.Name, entry);
            _names.Add(entry.Name);
        }
    }

    public string Path => _file.Path;
    public Llama2cHeader Header { get; }

    public IReadOnlyCollection<string> Names => _names;

    public bool Contains(string name) => _entries.ContainsKey(name);

    public long[] Shape(string name) => (long[])Entry(name).Shape.Clone();

    public torch.Tensor Load(string name, torch.ScalarType dtype)
    {
        var entry = Entry(name);
        return _file.ReadTensor(entry.Offset, entry.Shape, torch.ScalarType.Float32, dtype);
    }

    public void Dispose() => _file.Dispose();

    private static Llama2cHeader ReadHeader(MappedFile file)
    {
        if (file.Length < Llama2cHeader.Bytes)
            throw new ModelLoadException($"{file.Path}: {file.Length} bytes is too short for a llama2.c checkpoint header ({Llama2cHeader.Bytes} bytes)");
        var header = Llama2cHeader.Parse(file.Bytes(0, Llama2cHeader.Bytes));
        if (header.Problem() is string problem)
            throw new ModelLoadException($"{file.Path}: not a llama2.c checkpoint: {problem}");
        // run.c walks pointers without checking; a wrong size means a different export version,
        // a truncated download or another file, and would otherwise load garbage.
        var expected = Llama2cLayout.FileSize(header);
        if (expected != file.Length)
            throw new ModelLoadException($"{file.Path}: llama2.c checkpoint should be {expected} bytes for its header ({header}) but is {file.Length} bytes");
        return header;
    }

    private Llama2cLayout.Entry Entry(string name) =>
        _entries.TryGetValue(name, out var entry)
            ? entry
            : throw new ModelLoadException($"{Path}: no tensor named '{name}'");
}
