namespace LlmEngine.Kernels.Quantization;

/// <summary>ggml's tensor types, with ggml's own numeric ids (the values GGUF files store).
/// Only the ids this engine reads are named; any other id is reported by number.</summary>
public enum GgmlType : uint
{
    F32 = 0,
    F16 = 1,
    Q4_0 = 2,
    Q4_1 = 3,
    Q5_0 = 6,
    Q5_1 = 7,
    Q8_0 = 8,
    Q8_1 = 9,
    Q2_K = 10,
    Q3_K = 11,
    Q4_K = 12,
    Q5_K = 13,
    Q6_K = 14,
    Q8_K = 15,
    BF16 = 30,
}
