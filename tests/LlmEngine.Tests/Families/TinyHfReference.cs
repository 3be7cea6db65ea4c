using System.Text.Json;
using LlmEngine.Kernels.Models;
using LlmEngine.Tests.Loading;
using TorchSharp;

namespace LlmEngine.Tests.Families;

/// <summary>What transformers computed in float32 for one of the tiny models in
/// ../shared/models/tiny-hf (../shared/reference/tiny-hf/NAME.json).</summary>
internal sealed record TinyHfReference(
    int[][] Inputs, float[][] LastLogits, float[][] AllPositionLogitsOfInput1, int[][] Greedy, double[] GreedyMinTop2Gap)
{
    /// <summary>Every tiny model but phi3_longrope, whose switch to the long factors needs the
    /// sequence recomputed (see Phi3LongRopeTests).</summary>
    public static readonly string[] Families =
    [
        "gpt2", "opt", "llama", "llama3", "qwen2", "mistral", "phi3", "gemma", "gemma2", "mixtral", "qwen2_moe",
        "gpt_neox", "starcoder2", "olmo", "olmo2",
    ];

    /// <summary>The 7-token input, whose logits are given at every position.</summary>
    public const int SevenTokenInput = 1;

    private static readonly Dictionary<string, TinyHfReference> Cache = new();

    public static TinyHfReference Of(string family)
    {
        lock (Cache)
        {
            if (!Cache.TryGetValue(family, out var reference)) Cache[family] = reference = Load(family);
            return reference;
        }
    }

    public static LoadedModel LoadModel(string family, torch.ScalarType dtype = torch.ScalarType.Float32) =>
        ModelFactory.Load(SharedModels.TinyHf(family), "auto", dtype, torch.CPU);

    private static TinyHfReference Load(string family)
    {
        string path = Path.Combine(SharedModels.Root, "..", "reference", "tiny-hf", family + ".json");
        using var doc = JsonDocument.Parse(File.ReadAllText(path));
        var root = doc.RootElement;
        T[][] Rows<T>(string name, Func<JsonElement, T> read) =>
            root.GetProperty(name).EnumerateArray().Select(row => row.EnumerateArray().Select(read).ToArray()).ToArray();
        return new TinyHfReference(
            Rows("inputs", e => e.GetInt32()),
            Rows("last_logits", e => e.GetSingle()),
            Rows("all_position_logits_len7", e => e.GetSingle()),
            Rows("greedy_continuations", e => e.GetInt32()),
            root.GetProperty("greedy_min_top2_gap").EnumerateArray().Select(e => e.GetDouble()).ToArray());
    }

    /// <summary>Largest absolute difference between computed logits [rows, vocab] and expected rows.</summary>
    public static float MaxAbsError(torch.Tensor logits, float[][] expected)
    {
        // A scope holds the intermediates: one finalized while the next call reads it crashes libtorch.
        using var scope = torch.NewDisposeScope();
        var reference = torch.tensor(expected.SelectMany(r => r).ToArray()).view(expected.Length, -1);
        return (logits - reference).abs().max().item<float>();
    }
}
