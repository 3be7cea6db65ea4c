using LlmEngine.Kernels.Models;
using LlmEngine.Scheduling;

namespace LlmEngine.Kernels.Workers;

/// <summary>
/// What a <see cref="Worker"/> is built from: the model, how it is split, and how large its KV
/// cache is. The engine's options (<c>EngineOptions.ForWorker</c>) and a worker node's stage
/// assignment map onto it; the defaults and ranges are the engine's, so the settings without a
/// natural "unset" value are required here.
/// </summary>
public sealed record WorkerOptions
{
    /// <summary>A Hugging Face directory, a directory with a llama2.c checkpoint, a .bin or .gguf path;
    /// null or empty for the embedded default model.</summary>
    public string? Model { get; init; }
    /// <summary>"auto" (real weights) or "dummy" (seeded random weights from config.json alone).</summary>
    public required string LoadFormat { get; init; }
    public required string DType { get; init; }
    /// <summary>ggml block format of the linear layers' weights; null: as loaded; "none": computed in the dtype.</summary>
    public string? Quantization { get; init; }
    public required string Device { get; init; }
    /// <summary>Seed of dummy weights.</summary>
    public long Seed { get; init; }
    /// <summary>0: the model's maximum positions.</summary>
    public int MaxModelLength { get; init; }
    public required int BlockSize { get; init; }
    /// <summary>"native" or "torch"; null picks native where its library loads.</summary>
    public string? AttentionBackend { get; init; }
    public int TensorParallelSize { get; init; } = 1;
    public int PipelineParallelSize { get; init; } = 1;
    /// <summary>Blocks of the KV cache; 0: derive from <see cref="KvCacheSpaceGiB"/>.</summary>
    public int NumBlocks { get; init; }
    /// <summary>GiB for the KV cache; 0: <see cref="DefaultKvCacheShare"/> of the available memory,
    /// capped at what <see cref="MaxNumSeqs"/> full-length sequences use.</summary>
    public double KvCacheSpaceGiB { get; init; }
    /// <summary>"auto"/null (the model's dtype; float16 with quantized weights), "float32", "bfloat16", "float16", "fp8" (= "fp8_e4m3") or "fp8_e5m2": <see cref="Cache.KvCacheDTypes"/>.</summary>
    public string? KvCacheDType { get; init; }
    /// <summary>Most sequences in one step, which caps a KV cache sized from memory; 0: no cap.</summary>
    public int MaxNumSeqs { get; init; }
    /// <summary>GiB of host memory for swapped-out blocks, allocated with <see cref="PreemptionMode.Swap"/> only.</summary>
    public double SwapSpaceGiB { get; init; }
    public PreemptionMode PreemptionMode { get; init; } = PreemptionMode.Recompute;

    /// <summary>Share of the process's available memory a KV cache sized from memory takes.</summary>
    public const double DefaultKvCacheShare = 0.25;

    /// <summary>The longest prompt plus output: --max-model-len, at most the model's positions.</summary>
    public int MaxModelLengthOf(ModelConfig config) =>
        MaxModelLength > 0 ? Math.Min(MaxModelLength, config.MaxPositions) : config.MaxPositions;
}
