using LlmEngine.Kernels.Quantization;

namespace LlmEngine.Kernels.Loading;

/// <summary>A weight source whose tensors may be stored as ggml blocks (a GGUF file), which it can
/// hand out as they are for the native quantized kernels instead of decoding them.</summary>
internal interface IQuantizedWeightSource : IWeightSource
{
    GgmlType StoredType(string name);

    /// <summary>The named weight's blocks, rows in the order <see cref="IWeightSource.Load"/> gives them;
    /// the caller disposes it.</summary>
    QuantizedTensor Quantized(string name);
}
