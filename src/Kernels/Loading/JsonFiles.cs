using System.Text.Json;
using System.Text.Json.Nodes;

namespace LlmEngine.Kernels.Loading;

/// <summary>Reads the small JSON files beside a model (config, generation config, shard index)
/// with errors that name the file and, for bad JSON, where it went wrong.</summary>
internal static class JsonFiles
{
    public static JsonObject ReadObject(string path)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new ModelLoadException($"{path}: file not found", e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ModelLoadException($"{path}: cannot read ({e.Message})", e);
        }

        JsonNode? root;
        try
        {
            root = JsonNode.Parse(text);
        }
        catch (JsonException e)
        {
            throw new ModelLoadException($"{path}: not valid JSON at line {(e.LineNumber ?? 0) + 1}, byte {(e.BytePositionInLine ?? 0) + 1}", e);
        }
        return root as JsonObject ?? throw new ModelLoadException($"{path}: expected a JSON object at the top level");
    }
}
