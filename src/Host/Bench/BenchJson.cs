using LlmEngine.Actors.Engine;

namespace LlmEngine.Host.Bench;

/// <summary>JSON pieces shared by the benchmarks.</summary>
public static class BenchJson
{
    /// <summary>The engine options as the command-line flags name them (snake case).</summary>
    public static Dictionary<string, object?> Engine(EngineOptions o) => new()
    {
        ["model"] = o.Model,
        ["load_format"] = o.LoadFormat,
        ["dtype"] = o.DType,
        ["device"] = o.Device,
        ["block_size"] = o.BlockSize,
        ["num_blocks"] = o.NumBlocks,
        ["kv_cache_space"] = o.KvCacheSpaceGiB,
        ["swap_space"] = o.SwapSpaceGiB,
        ["max_num_seqs"] = o.MaxNumSeqs,
        ["max_num_batched_tokens"] = o.MaxNumBatchedTokens,
        ["max_model_len"] = o.MaxModelLength,
        ["preemption_mode"] = o.PreemptionMode.ToString().ToLowerInvariant(),
        ["attention_backend"] = o.AttentionBackend,
        ["enable_prefix_caching"] = o.EnablePrefixCaching,
        ["kv_layout"] = o.KvLayout.ToString().ToLowerInvariant(),
        ["batching"] = o.Batching.ToString().ToLowerInvariant(),
        ["engine_seed"] = o.Seed,
    };

    /// <summary>The engine options and what the running engine made of them.</summary>
    public static Dictionary<string, object?> Engine(InferenceEngine engine)
    {
        var json = Engine(engine.Options);
        json["num_blocks_allocated"] = engine.NumBlocks;
        json["max_model_len_effective"] = engine.MaxModelLength;
        json["attention_backend_used"] = engine.AttentionBackendName;
        json["model_description"] = engine.ModelDescription;
        return json;
    }
}
