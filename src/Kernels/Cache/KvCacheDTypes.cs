using TorchSharp;

namespace LlmEngine.Kernels.Cache;

/// <summary>
/// <c>--kv-cache-dtype</c>: the element type of every KV cache a worker allocates (the device
/// cache and the swap cache, on every tensor-parallel rank and pipeline stage), decided here
/// alone. "auto" is the model's dtype, as in vLLM (float32 for quantized weights, which compute
/// in float32). A bfloat16 cache halves the bytes attention reads per step and doubles the
/// tokens a given cache space holds; keys and values are rounded to it (to nearest even) as
/// they are written, and attention widens them back to float32 as it reads.
/// </summary>
public static class KvCacheDTypes
{
    public const string Auto = "auto";

    /// <summary>The accepted names, aliases included.</summary>
    public static readonly string[] Names = [Auto, "float32", "fp32", "bfloat16", "bf16"];

    /// <param name="name">"auto" (or null) for the model's dtype, "float32" or "bfloat16"</param>
    public static torch.ScalarType Of(string? name, torch.ScalarType modelDType) => (name ?? Auto).Trim().ToLowerInvariant() switch
    {
        Auto or "" => modelDType,
        "float32" or "fp32" => torch.ScalarType.Float32,
        "bfloat16" or "bf16" => torch.ScalarType.BFloat16,
        _ => throw new ArgumentException($"--kv-cache-dtype '{name}' is not supported (supported: auto, float32, bfloat16)"),
    };
}
