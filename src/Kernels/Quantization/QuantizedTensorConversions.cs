using LlmEngine.Kernels.Native;
using TorchSharp;

namespace LlmEngine.Kernels.Quantization;

/// <summary>Between <see cref="QuantizedTensor"/> and TorchSharp tensors: what a loader needs to quantize
/// float weights at load time, or to compute with exactly dequantized weights.</summary>
internal static unsafe class QuantizedTensorConversions
{
    /// <summary>A new CPU tensor of <paramref name="dtype"/> holding the exactly dequantized values.</summary>
    public static torch.Tensor ToTensor(this QuantizedTensor tensor, torch.ScalarType dtype)
    {
        var values = torch.empty(tensor.Shape.ToArray(), dtype: torch.ScalarType.Float32);
        tensor.Dequantize(new Span<float>((void*)TensorMemory.DataPointer(values), checked((int)tensor.ElementCount)));
        if (dtype == torch.ScalarType.Float32) return values;
        using (values) return values.to(dtype);
    }

    /// <summary>Quantizes a float tensor (any float dtype; rows along its last dimension) to
    /// <paramref name="type"/> with ggml's reference quantizer.</summary>
    public static QuantizedTensor Quantize(torch.Tensor weights, GgmlType type)
    {
        using var scope = torch.NewDisposeScope();
        var values = weights.detach().cpu().to(torch.ScalarType.Float32).contiguous();
        return QuantizedTensor.Quantize(type, values.shape,
            new ReadOnlySpan<float>((void*)TensorMemory.DataPointer(values), checked((int)values.numel())));
    }
}
