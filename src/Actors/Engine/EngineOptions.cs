namespace LlmEngine.Actors.Engine;

public enum PreemptionMode { Recompute, Swap }

/// <summary>How KV memory is laid out: in blocks on demand (paged), or reserved up front for each
/// request's maximum length, contiguously (the baseline of the PagedAttention paper).</summary>
public enum KvLayout { Paged, Reserved }

/// <summary>Iteration-level (continuous) batching, or request-level (static) batching where a
/// batch runs until all of its requests finish before new ones are admitted.</summary>
public enum BatchingMode { Continuous, Static }

/// <summary>Engine settings, bound from the command line or from configuration (section "Engine").</summary>
public sealed class EngineOptions
{
    /// <summary>A Hugging Face directory, a directory with a llama2.c checkpoint, or a .bin path;
    /// null or empty for the embedded default model.</summary>
    public string? Model { get; set; }
    public string? ServedModelName { get; set; }
    /// <summary>"auto" (real weights) or "dummy" (seeded random weights from config.json alone).</summary>
    public string LoadFormat { get; set; } = "auto";
    public string DType { get; set; } = "float32";
    public string Device { get; set; } = "cpu";
    public int BlockSize { get; set; } = 16;
    /// <summary>Blocks of the KV cache; 0: derive from <see cref="KvCacheSpaceGiB"/>.</summary>
    public int NumBlocks { get; set; }
    /// <summary>GiB for the KV cache; 0: a quarter of the machine's available memory, capped so
    /// the cache holds no more than max-num-seqs full-length sequences.</summary>
    public double KvCacheSpaceGiB { get; set; }
    public double SwapSpaceGiB { get; set; } = 1;
    public int MaxNumSeqs { get; set; } = 256;
    public int MaxNumBatchedTokens { get; set; } = 2048;
    /// <summary>0: the model's maximum positions.</summary>
    public int MaxModelLength { get; set; }
    public PreemptionMode PreemptionMode { get; set; } = PreemptionMode.Recompute;
    /// <summary>"native" or "torch"; null picks native where its library loads.</summary>
    public string? AttentionBackend { get; set; }
    public bool EnablePrefixCaching { get; set; } = true;
    public KvLayout KvLayout { get; set; } = KvLayout.Paged;
    public BatchingMode Batching { get; set; } = BatchingMode.Continuous;
    public long Seed { get; set; }
    /// <summary>Most requests that may wait for admission; one more is refused (HTTP 503 with
    /// Retry-After) instead of making every wait longer. 0: no bound.</summary>
    public int MaxWaitingRequests { get; set; }
    /// <summary>Seconds a graceful shutdown waits for in-flight requests before aborting them.</summary>
    public double ShutdownGraceSeconds { get; set; } = 10;
}
