using LlmEngine.Kernels.Quantization;

namespace LlmEngine.Kernels.Loading.Gguf;

/// <summary>One tensor's entry in a GGUF header.</summary>
/// <param name="Shape">Row-major, outermost first (ggml's ne reversed): a linear weight is
/// [out_features, in_features] as in PyTorch.</param>
/// <param name="Offset">Bytes from the start of the file (the data section's start plus the stored offset).</param>
internal sealed record GgufTensorInfo(string Name, GgmlType Type, long[] Shape, long Offset)
{
    public long ElementCount => Shape.Aggregate(1L, (a, b) => a * b);
}
