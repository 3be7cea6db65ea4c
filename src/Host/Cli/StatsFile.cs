using System.Text.Json;
using LlmEngine.Actors.Engine;
using LlmEngine.Scheduling;

namespace LlmEngine.Host.Cli;

/// <summary>The <c>--stats</c> file: engine figures of a run as one JSON object.</summary>
internal static class StatsFile
{
    public static Task WriteAsync(string path, EngineStatistics s, InferenceEngine engine) =>
        File.WriteAllTextAsync(path, JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["num_steps"] = s.NumSteps,
            ["num_preemptions"] = s.NumPreemptions,
            ["num_swapped_out"] = s.NumSwappedOut,
            ["peak_running"] = s.PeakRunning,
            ["peak_blocks_used"] = s.PeakBlocksUsed,
            ["blocks_total"] = s.BlocksTotal,
            ["blocks_free_at_end"] = s.BlocksFree,
            ["kv_waste_fraction"] = Math.Round(s.KvWasteFraction, 6),
            ["engine_overhead_fraction"] = Math.Round(s.EngineOverheadFraction, 6),
            ["prompt_tokens"] = s.PromptTokens,
            ["generation_tokens"] = s.GenerationTokens,
            ["prefix_cache_queries"] = s.PrefixCacheQueries,
            ["prefix_cache_hits"] = s.PrefixCacheHits,
            ["peak_blocks_saved_by_sharing"] = s.PeakBlocksSavedBySharing,
            ["mean_blocks_saved_by_sharing"] = Math.Round(s.MeanBlocksSavedBySharing, 3),
            ["mean_blocks_used"] = Math.Round((s.KvTokenShare + s.KvUnusedShare) * s.BlocksTotal, 3),
            ["attention_backend"] = engine.AttentionBackendName,
            ["block_size"] = engine.Options.BlockSize,
            ["preemption_mode"] = engine.Options.PreemptionMode.ToString().ToLowerInvariant(),
        }, new JsonSerializerOptions { WriteIndented = true }));
}
