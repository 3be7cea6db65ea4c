using System.Text.Json.Nodes;
using LlmEngine.Kernels.Loading;
using LlmEngine.Tests.Loading;
using static TorchSharp.torch;

namespace LlmEngine.Tests.Families;

/// <summary>A copy of one tiny model with its config.json and tensors changed, for config options
/// the shared models do not exercise.</summary>
internal static class TinyHfVariant
{
    public static Dictionary<string, Tensor> Tensors(string family)
    {
        using var file = new SafetensorsFile(Path.Combine(SharedModels.TinyHf(family), "model.safetensors"));
        return file.Names.ToDictionary(n => n, n => { using var t = file.Load(n, ScalarType.Float32); return t.clone(); });
    }

    public static JsonObject Config(string family) =>
        JsonNode.Parse(File.ReadAllText(Path.Combine(SharedModels.TinyHf(family), HuggingFaceConfig.FileName)))!.AsObject();

    /// <summary>Writes the model into a new folder under <paramref name="dir"/> and returns the folder.</summary>
    public static string Write(TempDir dir, JsonObject config, IReadOnlyDictionary<string, Tensor> tensors)
    {
        string folder = Directory.CreateDirectory(dir.File($"model{Directory.GetDirectories(dir.Path).Length}")).FullName;
        File.WriteAllText(Path.Combine(folder, HuggingFaceConfig.FileName), config.ToJsonString());
        SafetensorsWriter.Write(Path.Combine(folder, "model.safetensors"), tensors);
        return folder;
    }
}
