using LlmEngine.Kernels.Models;

namespace LlmEngine.Host.Bench;

/// <summary>
/// What this machine allows (shared/notes/environment.md, measured with libtorch on 2 cores):
/// matrix products at ~154 GFLOP/s in float32 and ~308 in bfloat16 (the notes' ~700 and ~1,400
/// tokens/s for the 110M model at 2 FLOP per parameter and token), and weights streamed at
/// ~20 GB/s by a matrix-vector product (the ~22 ms float32 step at batch 1). The parameters that
/// cost FLOPs per generated token are the layers' matrices and the LM head (the embedding is a
/// lookup); a prompt token that is not its sequence's last skips the LM head (the model computes
/// logits only for the rows it samples), so the prompt ceiling counts the layers alone: for
/// llama-110m ~907 tokens/s float32 and ~1,813 bfloat16, against ~703 and ~1,406 for generation.
/// These are rough: the GEMM rate depends on the shape, so a share a little above 100% is possible.
/// </summary>
public static class MachineCeilings
{
    public const double Float32FlopsPerSecond = 154e9;
    public const double BFloat16FlopsPerSecond = 308e9;
    public const double WeightBytesPerSecond = 20e9;

    public static long MatmulParameters(ModelConfig c) => LayerParameters(c) + (long)c.VocabSize * c.HiddenSize;

    public static long LayerParameters(ModelConfig c)
    {
        long d = c.HiddenSize, kv = (long)c.KvHeads * c.HeadSize;
        long attention = d * d * 2 + d * kv * 2;
        long mlp = (c.Architecture == ModelArchitecture.Llama ? 3L : 2L) * d * c.IntermediateSize;
        return c.NumLayers * (attention + mlp);
    }

    public static bool IsBFloat16(string dtype) => dtype is "bfloat16" or "bf16";

    private static double Flops(string dtype) => IsBFloat16(dtype) ? BFloat16FlopsPerSecond : Float32FlopsPerSecond;

    /// <summary>Compute-bound generated tokens per second (large batch).</summary>
    public static double TokensPerSecond(ModelConfig c, string dtype) => Flops(dtype) / (2.0 * MatmulParameters(c));

    /// <summary>Compute-bound prompt tokens per second (no LM head but for the last token).</summary>
    public static double PromptTokensPerSecond(ModelConfig c, string dtype) => Flops(dtype) / (2.0 * LayerParameters(c));

    /// <summary>Memory-bound step time at batch 1: every weight read once.</summary>
    public static double Batch1StepSeconds(ModelConfig c, string dtype) =>
        MatmulParameters(c) * (IsBFloat16(dtype) ? 2.0 : 4.0) / WeightBytesPerSecond;
}

/// <summary>llama.cpp's batched-bench on this machine (environment.md): a random LLaMA of the
/// llama-110m shape, 128 prompt + 128 generated tokens per sequence, 2 threads, flash attention.</summary>
public static class LlamaCppReference
{
    private static readonly Dictionary<(bool BFloat16, int Batch), (double Prompt, double Generation)> Rows = new()
    {
        [(false, 1)] = (600, 60), [(false, 8)] = (707, 255), [(false, 32)] = (670, 328), [(false, 64)] = (479, 266),
        [(true, 1)] = (1110, 114), [(true, 8)] = (933, 335), [(true, 32)] = (1017, 381), [(true, 64)] = (677, 294),
    };

    /// <summary>True for the shape llama.cpp was measured on (config/models/llama-110m).</summary>
    public static bool SameShape(ModelConfig c) =>
        c.Architecture == ModelArchitecture.Llama && c.HiddenSize == 768 && c.NumLayers == 12 && c.NumHeads == 12
        && c.KvHeads == 12 && c.IntermediateSize == 2048 && c.VocabSize == 32000;

    public static (double Prompt, double Generation)? Row(ModelConfig c, string dtype, int batch) =>
        SameShape(c) && Rows.TryGetValue((MachineCeilings.IsBFloat16(dtype), batch), out var row) ? row : null;
}
