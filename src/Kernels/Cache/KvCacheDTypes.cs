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
/// "fp8" (= "fp8_e4m3") and "fp8_e5m2", vLLM's names, store one byte per element: libtorch's
/// Float8_e4m3fn (3 mantissa bits, ±448, no infinities) and Float8_e5m2 (2 bits, ±57344), with
/// vLLM's per-tensor scale 1.0 when nothing is calibrated: values are rounded to nearest even and
/// saturate at the largest finite value (kernels/fp8.h). They halve a 16-bit cache's bytes again
/// and double the tokens it holds, at a relative error of up to 2^-4 (e4m3) or 2^-3 (e5m2) per
/// element.
/// </summary>
public static class KvCacheDTypes
{
    public const string Auto = "auto";

    /// <summary>The accepted names, aliases included.</summary>
    public static readonly string[] Names = [Auto, "float32", "fp32", "bfloat16", "bf16", "float16", "fp16", "fp8", "fp8_e4m3", "fp8_e5m2"];

    /// <summary>libtorch's Float8_e4m3fn and Float8_e5m2 (c10::ScalarType 24 and 23), which TorchSharp 0.107's
    /// enum does not name; its tensors carry them through to libtorch (allocation, copies, conversion to float32).</summary>
    public const torch.ScalarType Float8E4M3 = (torch.ScalarType)24;
    public const torch.ScalarType Float8E5M2 = (torch.ScalarType)23;

    /// <summary>Whether the cache holds one of the 8-bit formats.</summary>
    public static bool IsFp8(torch.ScalarType dtype) => dtype is Float8E4M3 or Float8E5M2;

    /// <summary>The largest finite value of an 8-bit format, where its values saturate.</summary>
    public static double MaxFinite(torch.ScalarType dtype) => dtype switch
    {
        Float8E4M3 => 448,
        Float8E5M2 => 57344,
        _ => throw new ArgumentException($"{dtype} is not an fp8 KV cache dtype"),
    };

    /// <param name="name">"auto" (or null), "float32", "bfloat16", "float16", "fp8" (= "fp8_e4m3") or "fp8_e5m2"</param>
    /// <param name="modelDType">the dtype the model computes in</param>
    /// <param name="quantizedWeights">whether linear layers run on the native quantized kernels (<see cref="Models.LoadedModel.QuantizedWeights"/>)</param>
    public static torch.ScalarType Of(string? name, torch.ScalarType modelDType, bool quantizedWeights) => (name ?? Auto).Trim().ToLowerInvariant() switch
    {
        Auto or "" => quantizedWeights ? torch.ScalarType.Float16 : modelDType,
        "float32" or "fp32" => torch.ScalarType.Float32,
        "bfloat16" or "bf16" => torch.ScalarType.BFloat16,
        "float16" or "fp16" => torch.ScalarType.Float16,
        "fp8" or "fp8_e4m3" => Float8E4M3,
        "fp8_e5m2" => Float8E5M2,
        _ => throw new ArgumentException($"--kv-cache-dtype '{name}' is not supported (supported: auto, float32, bfloat16, float16, fp8, fp8_e4m3, fp8_e5m2)"),
    };

    /// <summary>The name of a cache dtype as the option spells it (float32, bfloat16, float16, fp8_e4m3, fp8_e5m2).</summary>
    public static string NameOf(torch.ScalarType dtype) => dtype switch
    {
        torch.ScalarType.Float32 => "float32",
        torch.ScalarType.BFloat16 => "bfloat16",
        torch.ScalarType.Float16 => "float16",
        Float8E4M3 => "fp8_e4m3",
        Float8E5M2 => "fp8_e5m2",
        _ => throw new ArgumentException($"unsupported KV cache dtype {dtype}"),
    };

    /// <summary>Refuses, at startup, a cache the device's kernels cannot read or move: the native
    /// CUDA kernels (write, attention, block copies and swaps) take float32 and bfloat16 caches only.</summary>
    public static void Check(torch.ScalarType dtype, torch.Device device)
    {
        if (dtype is not (torch.ScalarType.Float32 or torch.ScalarType.BFloat16) && device.type == DeviceType.CUDA && NativeKernels.Supports(device))
            throw new ArgumentException($"--kv-cache-dtype {NameOf(dtype)} is not supported on {device}: the native CUDA kernels take float32 and bfloat16 caches (use --kv-cache-dtype bfloat16)");
    }
}
