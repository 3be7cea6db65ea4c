using LlmEngine.Kernels.Models;

namespace LlmEngine.Host.Bench;

/// <summary>
/// What this machine allows (shared/notes/environment.md, measured on 2 cores on 2026-12-03):
/// matrix products at ~185 GFLOP/s in float32 (libtorch) and ~810 in bfloat16 (oneDNN's
/// AVX512_BF16 path) on wide shapes, and memory copied at ~55 GB/s. A roofline per batch size:
/// a decode step reads every weight once (memory-bound at a few sequences: weight bytes over the
/// copy bandwidth per step) and does 2 FLOP per matrix parameter and token (compute-bound at
/// many). With a mixture of experts a token multiplies by its k experts only, but a step reads every
/// expert some token of it is routed to. The parameters that cost FLOPs and bytes per generated token are the layers' matrices
/// and the LM head (the embedding is a lookup); a prompt token that is not its sequence's last
/// skips the LM head, so the prompt ceiling counts the layers alone. For llama-110m: batch-1
/// steps of ~8.0 ms float32, ~4.0 bfloat16, ~2.1 Q8_0, ~1.1 Q4_0; compute ceilings ~845 and
/// ~3,700 generated tokens/s in float32 and bfloat16. No int8 matrix rate was measured: the
/// quantized formats use the bfloat16 rate (their kernels' work per weight is of that order).
/// Rough figures: the GEMM rate depends on the shape, so a share a little above 100% is possible.
/// </summary>
internal static class MachineCeilings
{
    public const double Float32FlopsPerSecond = 185e9;
    public const double BFloat16FlopsPerSecond = 810e9;
    public const double CopyBytesPerSecond = 55e9;

    /// <summary>Matrix parameters one token multiplies by: the layers' (with a mixture of experts, the k
    /// experts it is routed to) and the LM head.</summary>
    public static long MatmulParameters(ModelConfig c) => LayerParameters(c) + (long)c.VocabSize * c.HiddenSize;

    public static long LayerParameters(ModelConfig c) => LayerParameters(c, c.Experts?.PerToken ?? 0);

    /// <summary>The layers' matrix parameters with <paramref name="experts"/> experts of each mixture.</summary>
    public static long LayerParameters(ModelConfig c, int experts)
    {
        long d = c.HiddenSize, q = (long)c.NumHeads * c.HeadSize, kv = (long)c.KvHeads * c.HeadSize;
        long attention = d * q * 2 + d * kv * 2;
        long mlp = c.Experts is { } e
            ? experts * 3L * d * e.IntermediateSize + d * e.Count + 3L * d * e.SharedIntermediateSize
            : (c.HasGatedMlp ? 3L : 2L) * d * c.IntermediateSize;
        return c.NumLayers * (attention + mlp);
    }

    /// <summary>Matrix parameters a step of <paramref name="tokens"/> tokens reads: with a mixture of
    /// experts, up to every expert (tokens x k routes, spread over the experts).</summary>
    public static long StepParameters(ModelConfig c, int tokens) => c.Experts is { } e
        ? LayerParameters(c, (int)Math.Min(e.Count, (long)tokens * e.PerToken)) + (long)c.VocabSize * c.HiddenSize
        : MatmulParameters(c);

    /// <summary>Bytes per weight of a format: a dtype (float32, bfloat16) or a GGUF block type.</summary>
    public static double BytesPerWeight(string format) => format switch
    {
        "float32" or "fp32" or "float" => 4,
        "bfloat16" or "bf16" => 2,
        "q8_0" => 34.0 / 32,
        "q4_0" => 18.0 / 32,
        "q4_k" => 144.0 / 256,
        "q5_k" => 176.0 / 256,
        "q6_k" => 210.0 / 256,
        _ => throw new ArgumentException($"no ceilings for weight format '{format}'"),
    };

    private static double Flops(string format) => BytesPerWeight(format) == 4 ? Float32FlopsPerSecond : BFloat16FlopsPerSecond;

    /// <summary>Compute-bound generated tokens per second (large batch).</summary>
    public static double TokensPerSecond(ModelConfig c, string format) => Flops(format) / (2.0 * MatmulParameters(c));

    /// <summary>Compute-bound prompt tokens per second (no LM head but for the last token).</summary>
    public static double PromptTokensPerSecond(ModelConfig c, string format) => Flops(format) / (2.0 * LayerParameters(c));

    /// <summary>Memory-bound step time: every weight a step of <paramref name="tokens"/> tokens uses, read once.</summary>
    public static double WeightPassSeconds(ModelConfig c, string format, int tokens = 1) => StepParameters(c, tokens) * BytesPerWeight(format) / CopyBytesPerSecond;

    /// <summary>The roofline for generation at a batch size: the lower of one weight pass per
    /// step (batch tokens per pass) and the compute ceiling.</summary>
    public static double GenerationBound(ModelConfig c, string format, int batch) =>
        Math.Min(batch / WeightPassSeconds(c, format, batch), TokensPerSecond(c, format));
}
