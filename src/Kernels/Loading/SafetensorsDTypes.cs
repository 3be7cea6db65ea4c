using TorchSharp;

namespace LlmEngine.Kernels.Loading;

/// <summary>The safetensors dtype names: their element sizes (to check any file's header, even
/// tensors we cannot load) and the ones that map to a TorchSharp type we load and write.</summary>
internal static class SafetensorsDTypes
{
    private static readonly Dictionary<string, int> ElementSizes = new()
    {
        ["BOOL"] = 1, ["U8"] = 1, ["I8"] = 1, ["F8_E4M3"] = 1, ["F8_E5M2"] = 1,
        ["I16"] = 2, ["U16"] = 2, ["F16"] = 2, ["BF16"] = 2,
        ["I32"] = 4, ["U32"] = 4, ["F32"] = 4,
        ["I64"] = 8, ["U64"] = 8, ["F64"] = 8,
    };

    private static readonly Dictionary<string, torch.ScalarType> Floats = new()
    {
        ["F16"] = torch.ScalarType.Float16,
        ["BF16"] = torch.ScalarType.BFloat16,
        ["F32"] = torch.ScalarType.Float32,
        ["F64"] = torch.ScalarType.Float64,
    };

    /// <summary>Bytes per element, or null for a name this code does not know.</summary>
    public static int? ElementSize(string name) => ElementSizes.TryGetValue(name, out var size) ? size : null;

    public static bool TryScalarType(string name, out torch.ScalarType type) => Floats.TryGetValue(name, out type);

    public static string Name(torch.ScalarType type)
    {
        foreach (var (name, t) in Floats)
            if (t == type) return name;
        throw new ArgumentException($"safetensors writing supports F32, F16, BF16 and F64 tensors, not {type}");
    }
}
