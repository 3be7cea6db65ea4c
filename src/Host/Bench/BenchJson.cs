using LlmEngine.Actors.Engine;

namespace LlmEngine.Host.Bench;

/// <summary>JSON pieces shared by the benchmarks.</summary>
internal static class BenchJson
{
    /// <summary>The engine options as the command-line flags name them (snake case).</summary>
    public static Dictionary<string, object?> Engine(EngineOptions o) =>
        EngineOptions.Settings.ToDictionary(s => s.JsonKey, s => s.JsonValue(o));

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
