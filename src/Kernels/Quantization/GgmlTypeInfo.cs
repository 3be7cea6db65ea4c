namespace LlmEngine.Kernels.Quantization;

/// <summary>How one ggml type packs its elements: a row of <c>n</c> elements is
/// <c>n / BlockElements</c> blocks of <c>BlockBytes</c> bytes each, stored back to back.</summary>
/// <param name="Name">ggml's name (<c>q4_K</c>, <c>bf16</c>...), as llama.cpp prints it.</param>
public sealed record GgmlTypeInfo(GgmlType Type, string Name, int BlockElements, int BlockBytes)
{
    /// <summary>Elements per super-block of the K-quants.</summary>
    public const int QK_K = 256;

    private static readonly Dictionary<GgmlType, GgmlTypeInfo> Known = new GgmlTypeInfo[]
    {
        new(GgmlType.F32, "f32", 1, 4),
        new(GgmlType.F16, "f16", 1, 2),
        new(GgmlType.BF16, "bf16", 1, 2),
        new(GgmlType.Q8_0, "q8_0", 32, BlockQ8_0.Bytes),
        new(GgmlType.Q4_0, "q4_0", 32, BlockQ4_0.Bytes),
        new(GgmlType.Q4_K, "q4_K", QK_K, BlockQ4_K.Bytes),
        new(GgmlType.Q5_K, "q5_K", QK_K, BlockQ5_K.Bytes),
        new(GgmlType.Q6_K, "q6_K", QK_K, BlockQ6_K.Bytes),
    }.ToDictionary(info => info.Type);

    /// <summary>The types this engine can decode: every one has an exact reference dequantizer.</summary>
    public static IReadOnlyCollection<GgmlTypeInfo> Supported => Known.Values;

    public static bool IsSupported(GgmlType type) => Known.ContainsKey(type);

    /// <summary>The layout of <paramref name="type"/>; a clear error naming the type when this engine
    /// does not decode it (Q4_1, Q5_0, IQ*, ...).</summary>
    public static GgmlTypeInfo Of(GgmlType type) => Known.TryGetValue(type, out var info)
        ? info
        : throw new NotSupportedException($"ggml type {Describe(type)} is not supported (supported: {string.Join(", ", Known.Values.Select(k => k.Name))})");

    /// <summary>The type's name where ggml has one this engine knows, else its numeric id.</summary>
    public static string Describe(GgmlType type) =>
        Known.TryGetValue(type, out var info) ? info.Name
        : Enum.IsDefined(type) ? type.ToString().ToLowerInvariant()
        : $"#{(uint)type}";

    /// <summary>Bytes of a row of <paramref name="elements"/> elements; the row must be whole blocks.</summary>
    public long RowBytes(long elements)
    {
        if (elements % BlockElements != 0)
            throw new ArgumentException($"a {Name} row of {elements} elements is not a whole number of {BlockElements}-element blocks");
        return elements / BlockElements * BlockBytes;
    }

    public bool IsQuantized => BlockElements > 1;
}
