using LlmEngine.Kernels.Models;

namespace LlmEngine.Host.Bench;

/// <summary>llama.cpp on this machine (environment.md): commit de3ff815 of 2026-09-28 (the copy in
/// node-llama-cpp 3.22.1), CPU build with AVX-512 BF16/VNNI, 2 threads, flash attention,
/// <c>llama-batched-bench -npp 128 -ntg 128 -npl 1,8,32,64</c> on a random LLaMA of the llama-110m
/// shape; medians of 5 rounds. Prompt throughput was recorded at 1, 32 and 64 sequences.</summary>
internal static class LlamaCppReference
{
    public const string Version = "llama.cpp de3ff815 (2026-09-28)";

    private static readonly Dictionary<string, (double[] Generation, double?[] Prompt)> Rows = new()
    {
        ["float32"] = ([78, 324, 589, 659], [1161, null, 1393, 1389]),
        ["bfloat16"] = ([130, 510, 592, 910], [1757, null, 2196, 1658]),
        ["q8_0"] = ([198, 361, 557, 590], [1094, null, 1023, 1154]),
        ["q4_0"] = ([321, 637, 748, 761], [2273, null, 2121, 1671]),
    };

    private static readonly int[] Batches = [1, 8, 32, 64];

    /// <summary>True for the shape llama.cpp was measured on (config/models/llama-110m).</summary>
    public static bool SameShape(ModelConfig c) =>
        c.Architecture == ModelArchitecture.Llama && c.HiddenSize == 768 && c.NumLayers == 12 && c.NumHeads == 12
        && c.KvHeads == 12 && c.IntermediateSize == 2048 && c.VocabSize == 32000;

    /// <summary>llama.cpp's prompt and generation tokens/s for a weight format and batch size, where measured.</summary>
    public static (double? Prompt, double? Generation) Row(ModelConfig c, string format, int batch)
    {
        int i = Array.IndexOf(Batches, batch);
        if (!SameShape(c) || i < 0 || !Rows.TryGetValue(Canonical(format), out var row)) return (null, null);
        return (row.Prompt[i], row.Generation[i]);
    }

    private static string Canonical(string format) => format switch
    {
        "fp32" or "float" => "float32",
        "bf16" => "bfloat16",
        _ => format,
    };
}
