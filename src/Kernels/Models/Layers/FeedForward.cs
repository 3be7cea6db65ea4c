using TorchSharp;
using static TorchSharp.torch;

namespace LlmEngine.Kernels.Models.Layers;

/// <summary>The MLP of a decoder layer: [tokens, hidden] to [tokens, hidden].</summary>
internal interface IFeedForward : IDisposable
{
    Tensor Forward(Tensor x);
}

/// <summary>down(act(gate · x) * (up · x)): SwiGLU (LLaMA, Qwen2, Mistral...) or GeGLU (Gemma).
/// Gate and up are one fused projection whose rows are [gate | up] (Phi-3's gate_up_proj).</summary>
public sealed class GatedMlp(LinearWeight gateUp, LinearWeight down, string activation) : IFeedForward
{
    /// <param name="prefix">names prefix.gate_proj, prefix.up_proj, prefix.down_proj</param>
    public static GatedMlp Read(WeightReader weights, string prefix, long hidden, long intermediate, string activation,
        string gate = "gate_proj", string up = "up_proj", string down = "down_proj") =>
        new(weights.ReadLinear(hidden, ($"{prefix}.{gate}.weight", intermediate), ($"{prefix}.{up}.weight", intermediate)),
            weights.ReadLinear($"{prefix}.{down}.weight", hidden, intermediate), activation);

    public LinearWeight GateUp => gateUp;
    public LinearWeight Down => down;
    public string Activation => activation;

    public Tensor Forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        return Linear.Apply(Activations.Gated(activation, Linear.Apply(x, gateUp)), down).MoveToOuterDisposeScope();
    }

    public void Dispose()
    {
        gateUp.Dispose();
        down.Dispose();
    }
}

/// <summary>down(act(up · x + b) ) + b, with or without biases (GPT-NeoX, Starcoder2).</summary>
internal sealed class PlainMlp(LinearWeight up, Tensor? upBias, LinearWeight down, Tensor? downBias, string activation) : IFeedForward
{
    public static PlainMlp Read(WeightReader weights, string prefix, string up, string down, long hidden, long intermediate, string activation, bool bias) =>
        new(weights.ReadLinear($"{prefix}.{up}.weight", intermediate, hidden), bias ? weights.ReadBias($"{prefix}.{up}.bias", intermediate) : null,
            weights.ReadLinear($"{prefix}.{down}.weight", hidden, intermediate), bias ? weights.ReadBias($"{prefix}.{down}.bias", hidden) : null, activation);

    public Tensor Forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        return Linear.Apply(Activations.Apply(activation, Linear.Apply(x, up, upBias)), down, downBias).MoveToOuterDisposeScope();
    }

    public void Dispose()
    {
        foreach (var t in new[] { upBias, downBias }) t?.Dispose();
        up.Dispose();
        down.Dispose();
    }
}

/// <summary>Fused projections: several weights (or biases) stacked by rows into one matrix, so one
/// matrix product computes them all.</summary>
internal static class Fused
{
    public static Tensor Rows(params Tensor[] parts)
    {
        var fused = cat(parts, 0).contiguous();
        foreach (var part in parts) part.Dispose();
        return fused;
    }
}
