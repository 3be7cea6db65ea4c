using TorchSharp;

namespace LlmEngine.Kernels.Models.Layers;

/// <summary>The normalisations decoder families use.</summary>
public enum NormKind
{
    /// <summary>RMSNorm, x · w (LLaMA and most).</summary>
    Rms,
    /// <summary>RMSNorm, x · (1 + w) (Gemma): the checkpoint stores the gain less one.</summary>
    RmsUnitOffset,
    /// <summary>LayerNorm with gain and bias (GPT-NeoX, Starcoder2).</summary>
    Layer,
    /// <summary>LayerNorm without parameters (OLMo).</summary>
    LayerWithoutParameters,
}

/// <summary>One normalisation layer with its weights.</summary>
public sealed class Norm : IDisposable
{
    private readonly NormKind _kind;
    private readonly torch.Tensor? _weight, _bias;
    private readonly double _epsilon;

    private Norm(NormKind kind, torch.Tensor? weight, torch.Tensor? bias, double epsilon)
    {
        _kind = kind;
        _weight = weight;
        _bias = bias;
        _epsilon = epsilon;
    }

    /// <param name="name">the layer's name: its tensors are name.weight and name.bias</param>
    public static Norm Read(WeightReader weights, string name, long size, NormKind kind, double epsilon) => kind switch
    {
        NormKind.Rms => new(kind, weights.ReadGain(name + ".weight", size), null, epsilon),
        // Dummy weights read as zeros: a gain of one.
        NormKind.RmsUnitOffset => new(kind, weights.ReadBias(name + ".weight", size), null, epsilon),
        NormKind.Layer => new(kind, weights.ReadGain(name + ".weight", size), weights.ReadBias(name + ".bias", size), epsilon),
        _ => new(kind, null, null, epsilon),
    };

    public torch.Tensor Apply(torch.Tensor x) => _kind switch
    {
        NormKind.Rms => Norms.Rms(x, _weight!, _epsilon),
        NormKind.RmsUnitOffset => Norms.RmsUnitOffset(x, _weight!, _epsilon),
        _ => Norms.Layer(x, _weight, _bias, _epsilon),
    };

    /// <summary>x += residual in place, then the norm of x: one native call for an RMSNorm of a few rows.</summary>
    public torch.Tensor AddThenApply(torch.Tensor x, torch.Tensor residual)
    {
        if (_kind is NormKind.Rms or NormKind.RmsUnitOffset)
            return Norms.Rms(x, residual, _weight!, _epsilon, _kind == NormKind.RmsUnitOffset);
        x.add_(residual);
        return Apply(x);
    }

    public void Dispose()
    {
        _weight?.Dispose();
        _bias?.Dispose();
    }
}
