using LlmEngine.Kernels.Quantization;
using TorchSharp;

namespace LlmEngine.Kernels.Models.Layers;

/// <summary>
/// The weight [out_features, in_features] of a linear layer, as <see cref="Linear"/> computes with
/// it: a tensor in the model's dtype, or ggml blocks (Q8_0, Q4_0) that the native quantized
/// kernel reads as they are. <see cref="WeightReader.AsLinear"/> decides which.
/// </summary>
public sealed class LinearWeight : IDisposable
{
    private readonly bool _owned;

    private LinearWeight(torch.Tensor? dense, QuantizedTensor? quantized, bool owned)
    {
        Dense = dense;
        Quantized = quantized;
        _owned = owned;
    }

    public torch.Tensor? Dense { get; }
    public QuantizedTensor? Quantized { get; }

    /// <summary>A dense weight; <paramref name="owned"/>: disposed with this one (not so for a head
    /// tied to the embedding, which the model disposes).</summary>
    public static LinearWeight Of(torch.Tensor dense, bool owned = true) => new(dense, null, owned);

    public static LinearWeight Of(QuantizedTensor quantized) => new(null, quantized, true);

    public void Dispose()
    {
        Quantized?.Dispose();
        if (_owned) Dense?.Dispose();
    }
}
