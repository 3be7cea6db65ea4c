using LlmEngine.Kernels.Native;
using TorchSharp;

namespace LlmEngine.Kernels.Cache;

/// <summary>
/// <c>--kv-cache-dtype</c>: the element type of every KV cache a worker allocates (the device
/// cache and the swap cache, on every tensor-parallel rank and pipeline stage), decided here
/// alone. A 16-bit cache halves the bytes attention reads per step and doubles the tokens a
/// given cache space holds; keys and values are rounded to it (to nearest even) as they are
/// written, and attention widens them back to float32 as it reads. float16 keeps 11 significant
/// bits (relative error up to 2^-11) over a range of ±65504, bfloat16 8 bits over float32's range.
/// "auto" is the model's dtype, as in vLLM, except under quantized weights (which compute in
/// float32): there it is float16, llama.cpp's default cache, which its figures and the quantized
/// GGUF references were measured with.
/// </summary>
public static class KvCacheDTypes
{
    public const string Auto = "auto";

    /// <summary>The accepted names, aliases included.</summary>
    public static readonly string[] Names = [Auto, "float32", "fp32", "bfloat16", "bf16", "float16", "fp16"];

    /// <param name="name">"auto" (or null), "float32", "bfloat16" or "float16"</param>
    /// <param name="modelDType">the dtype the model computes in</param>
    /// <param name="quantizedWeights">whether linear layers run on the native quantized kernels (<see cref="Models.LoadedModel.QuantizedWeights"/>)</param>
    public static torch.ScalarType Of(string? name, torch.ScalarType modelDType, bool quantizedWeights) => (name ?? Auto).Trim().ToLowerInvariant() switch
    {
        Auto or "" => quantizedWeights ? torch.ScalarType.Float16 : modelDType,
        "float32" or "fp32" => torch.ScalarType.Float32,
        "bfloat16" or "bf16" => torch.ScalarType.BFloat16,
        "float16" or "fp16" => torch.ScalarType.Float16,
        _ => throw new ArgumentException($"--kv-cache-dtype '{name}' is not supported (supported: auto, float32, bfloat16, float16)"),
    };

    /// <summary>The name of a cache dtype as the option spells it (float32, bfloat16, float16).</summary>
    public static string NameOf(torch.ScalarType dtype) => dtype switch
    {
        torch.ScalarType.Float32 => "float32",
        torch.ScalarType.BFloat16 => "bfloat16",
        torch.ScalarType.Float16 => "float16",
        _ => throw new ArgumentException($"unsupported KV cache dtype {dtype}"),
    };

    /// <summary>Refuses, at startup, a cache the device's kernels cannot read or move: the native
    /// CUDA kernels (write, attention, block copies and swaps) take float32 and bfloat16 caches only.</summary>
    public static void Check(torch.ScalarType dtype, torch.Device device)
    {
        if (dtype == torch.ScalarType.Float16 && device.type == DeviceType.CUDA && NativeKernels.Supports(device))
            throw new ArgumentException($"--kv-cache-dtype float16 is not supported on {device}: the native CUDA kernels take float32 and bfloat16 caches (use --kv-cache-dtype bfloat16)");
    }
}
