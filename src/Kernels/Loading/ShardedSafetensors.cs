using System.Text.Json.Nodes;
using TorchSharp;

namespace LlmEngine.Kernels.Loading;

/// <summary>A checkpoint split over several safetensors files, described by
/// <c>model.safetensors.index.json</c> (<c>weight_map</c>: tensor name -> shard file beside it).
/// Each shard is opened (mapped) once.</summary>
internal sealed class ShardedSafetensors : IWeightSource
{
    private readonly Dictionary<string, SafetensorsFile> _shardOf = new(StringComparer.Ordinal);
    private readonly List<SafetensorsFile> _shards = [];
    private readonly List<string> _names = [];

    public ShardedSafetensors(string indexPath)
    {
        IndexPath = indexPath;
        try
        {
            Open(indexPath);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public string IndexPath { get; }

    public IReadOnlyCollection<string> Names => _names;

    public bool Contains(string name) => _shardOf.ContainsKey(name);

    public long[] Shape(string name) => Shard(name).Shape(name);

    public torch.Tensor Load(string name, torch.ScalarType dtype) => Shard(name).Load(name, dtype);

    public void Dispose()
    {
        foreach (var shard in _shards) shard.Dispose();
        _shards.Clear();
    }

    private void Open(string indexPath)
    {
        var index = JsonFiles.ReadObject(indexPath);
        if (index["weight_map"] is not JsonObject weightMap)
            throw new ModelLoadException($"{indexPath}: no 'weight_map' object");

        string directory = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(indexPath))!;
        var byFile = new Dictionary<string, SafetensorsFile>(StringComparer.Ordinal);
        foreach (var (name, value) in weightMap)
        {
            if (value is not JsonValue fileValue || !fileValue.TryGetValue<string>(out var fileName))
                throw new ModelLoadException($"{indexPath}: weight_map entry '{name}' is not a file name");
            if (!byFile.TryGetValue(fileName, out var shard))
            {
                string shardPath = System.IO.Path.Combine(directory, fileName);
                if (!File.Exists(shardPath))
                    throw new ModelLoadException($"{shardPath}: shard listed in {indexPath} not found");
                shard = new SafetensorsFile(shardPath);
                byFile.Add(fileName, shard);
                _shards.Add(shard);
            }
            // A stale index would otherwise fail only when that tensor is loaded, mid-way through a model.
            if (!shard.Contains(name))
                throw new ModelLoadException($"{shard.Path}: has no tensor '{name}', which {indexPath} places there");
            _shardOf.Add(name, shard);
            _names.Add(name);
        }
    }

    private SafetensorsFile Shard(string name) =>
        _shardOf.TryGetValue(name, out var shard)
            ? shard
            : throw new ModelLoadException($"{IndexPath}: no tensor named '{name}'");
}
