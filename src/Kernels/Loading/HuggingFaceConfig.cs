using System.Text.Json.Nodes;

namespace LlmEngine.Kernels.Loading;

/// <summary>
/// A model directory's <c>config.json</c>, with <c>bos_token_id</c>/<c>eos_token_id</c> from
/// <c>generation_config.json</c> taking precedence when that file sets them (as transformers'
/// generate does: many checkpoints list extra stop tokens only there). A field set to JSON null
/// counts as absent. Typed getters name the file and field when a value is missing or mistyped.
/// </summary>
public sealed class HuggingFaceConfig
{
    public const string FileName = "config.json";
    public const string GenerationFileName = "generation_config.json";

    private static readonly string[] GenerationOverrides = ["bos_token_id", "eos_token_id"];

    private HuggingFaceConfig(string path, JsonObject json)
    {
        Path = path;
        Json = json;
    }

    /// <summary>Path of config.json.</summary>
    public string Path { get; }

    /// <summary>config.json with the generation overrides applied.</summary>
    public JsonObject Json { get; }

    public int? BosTokenId => Has("bos_token_id") ? GetInt("bos_token_id") : null;

    /// <summary>Every end-of-sequence id; the field may be one int or a list.</summary>
    public IReadOnlyList<int> EosTokenIds => GetIntList("eos_token_id");

    public static HuggingFaceConfig Load(string directory)
    {
        string path = System.IO.Path.Combine(directory, FileName);
        var json = JsonFiles.ReadObject(path);
        string generationPath = System.IO.Path.Combine(directory, GenerationFileName);
        if (File.Exists(generationPath))
        {
            var generation = JsonFiles.ReadObject(generationPath);
            foreach (string name in GenerationOverrides)
            {
                if (generation[name] is not JsonNode value) continue;
                IntList(generationPath, name, value); // blame the file the value came from
                json[name] = value.DeepClone();
            }
        }
        return new HuggingFaceConfig(path, json);
    }

    public bool Has(string name) => Json[name] is not null;

    public int GetInt(string name) => Get<int>(name, "an integer");
    public int GetInt(string name, int defaultValue) => Has(name) ? GetInt(name) : defaultValue;

    public double GetDouble(string name) => Get<double>(name, "a number");
    public double GetDouble(string name, double defaultValue) => Has(name) ? GetDouble(name) : defaultValue;

    public bool GetBool(string name) => Get<bool>(name, "true or false");
    public bool GetBool(string name, bool defaultValue) => Has(name) ? GetBool(name) : defaultValue;

    public string GetString(string name) => Get<string>(name, "a string");
    public string? GetString(string name, string? defaultValue) => Has(name) ? GetString(name) : defaultValue;

    /// <summary>A field that may be one int or a list of ints; empty when absent.</summary>
    public IReadOnlyList<int> GetIntList(string name) =>
        Json[name] is JsonNode node ? IntList(Path, name, node) : [];

    private T Get<T>(string name, string what)
    {
        var node = Json[name] ?? throw new ModelLoadException($"{Path}: required field '{name}' is missing");
        return node is JsonValue value && value.TryGetValue<T>(out var result)
            ? result
            : throw new ModelLoadException($"{Path}: '{name}' should be {what} but is {node.ToJsonString()}");
    }

    private static List<int> IntList(string path, string name, JsonNode node)
    {
        if (node is JsonValue single && single.TryGetValue<int>(out int one))
            return [one];
        if (node is JsonArray array && array.All(item => item is JsonValue v && v.TryGetValue<int>(out _)))
            return array.Select(item => item!.GetValue<int>()).ToList();
        throw new ModelLoadException($"{path}: '{name}' should be an integer or a list of integers but is {node.ToJsonString()}");
    }
}
