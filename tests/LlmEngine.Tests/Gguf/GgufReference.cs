using System.Text.Json;
using LlmEngine.Kernels.Models;
using LlmEngine.Tests.Loading;
using TorchSharp;

namespace LlmEngine.Tests.Gguf;

/// <summary>What llama.cpp computed on one of ../shared/models/gguf (../shared/reference/gguf/NAME.json,
/// or dequant/NAME.json for the same weights dequantized to F32), with a float32 K/V cache: greedy tokens,
/// top-2 gaps and last-position logits for token-id inputs; <see cref="RepackShift"/>: how far llama.cpp's
/// own last logits moved per input when its weight repacking was off; <see cref="Float16Cache"/>: the same
/// runs with llama.cpp's default float16 cache, where the file has them.</summary>
internal sealed record GgufReference(int[][] Inputs, float[][] LastLogits, int[][] Greedy, float[][] Top2Gaps, float[] RepackShift,
    GgufFloat16CacheRuns? Float16Cache)
{
    /// <summary>The references ran with a 512-token context; the files say 128.</summary>
    public const int Context = 512;

    public static readonly string[] FloatFiles = ["stories260K-f32.gguf", "random-d256-f32.gguf"];

    public static readonly string[] QuantizedFiles =
    [
        "stories260K-q8_0.gguf", "stories260K-q4_0.gguf", "random-d256-q8_0.gguf", "random-d256-q4_0.gguf",
        "random-d256-q4_k_m.gguf", "random-d256-q5_k_m.gguf", "random-d256-q6_k.gguf",
    ];

    public static string ModelPath(string file) => Path.Combine(SharedModels.Root, "gguf", file);

    private static readonly Dictionary<string, GgufReference> Cache = new();

    /// <summary>llama.cpp's path on the file (<paramref name="dequantized"/> false) or on its weights
    /// dequantized to F32 (true; F32 files have only the former).</summary>
    public static GgufReference Of(string file, bool dequantized)
    {
        string path = Path.Combine(SharedModels.Root, "..", "reference", "gguf", dequantized ? "dequant" : "", file + ".json");
        lock (Cache)
        {
            if (!Cache.TryGetValue(path, out var reference)) Cache[path] = reference = Load(path);
            return reference;
        }
    }

    /// <param name="dequantize">Every block decoded to float32 (else linear layers run on the native
    /// quantized kernels where they take the block type).</param>
    public static LoadedModel LoadModel(string file, bool dequantize) =>
        ModelFactory.Load(ModelPath(file), "auto", torch.ScalarType.Float32, torch.CPU, maxModelLength: Context, dequantizeGguf: dequantize);

    private static GgufReference Load(string path)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(path));
        var root = doc.RootElement;
        return new GgufReference(
            Rows(root, "inputs", e => e.GetInt32()),
            Rows(root, "last_logits", e => e.GetSingle()),
            Rows(root, "greedy_continuations", e => e.GetInt32()),
            Rows(root, "top2_gaps", e => e.GetSingle()),
            root.TryGetProperty("no_repack", out var noRepack) && noRepack.TryGetProperty("last_logits_max_abs_diff", out var shifts)
                ? shifts.EnumerateArray().Select(e => e.GetSingle()).ToArray()
                : new float[root.GetProperty("inputs").GetArrayLength()],
            root.TryGetProperty("f16_kv", out var f16)
                ? new GgufFloat16CacheRuns(
                    Rows(f16, "greedy_continuations", e => e.GetInt32()),
                    Rows(f16, "top2_gaps", e => e.GetSingle()),
                    f16.GetProperty("last_logits_max_abs_diff_vs_f32_kv").EnumerateArray().Select(e => e.GetSingle()).ToArray())
                : null);
    }

    private static T[][] Rows<T>(JsonElement parent, string name, Func<JsonElement, T> read) =>
        parent.GetProperty(name).EnumerateArray().Select(row => row.EnumerateArray().Select(read).ToArray()).ToArray();
}

/// <summary>llama.cpp's runs with its default float16 K/V cache (the <c>f16_kv</c> part of a reference):
/// greedy tokens and top-2 gaps, and per input how far its last-position logits moved from the float32
/// cache's (the file keeps only that distance, not the logits).</summary>
internal sealed record GgufFloat16CacheRuns(int[][] Greedy, float[][] Top2Gaps, float[] LastLogitsShift);
