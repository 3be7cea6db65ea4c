using LlmEngine.Kernels.Loading;
using LlmEngine.Kernels.Native;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace LlmEngine.Kernels.Models.Layers;

/// <summary>The MLP activations that configs name in <c>activation_function</c>, <c>hidden_act</c>
/// or <c>hidden_activation</c> (keys of transformers' ACT2FN), computed in the model's dtype as
/// transformers does.</summary>
internal static class Activations
{
    public static IReadOnlyList<string> Supported { get; } = ["gelu_new", "gelu_pytorch_tanh", "gelu", "relu", "silu"];

    /// <summary>The name, if supported; otherwise a load error that lists the supported ones.</summary>
    public static string Check(string name, string source) => Supported.Contains(name)
        ? name
        : throw new ModelLoadException($"{source}: activation_function '{name}' is not supported (supported: {string.Join(", ", Supported)})");

    /// <summary>act(gate) · up for a fused projection [tokens, 2h] whose columns are [gate | up]: SiLU of
    /// a few rows in one native call (<see cref="FusedOps"/>), otherwise libtorch's activation and product.</summary>
    public static Tensor Gated(string name, Tensor gateUp)
    {
        if (name == "silu" && FusedOps.Takes(gateUp)) return FusedOps.SiluMul(gateUp);
        var halves = gateUp.chunk(2, -1);
        return Apply(name, halves[0]).mul_(halves[1]);
    }

    public static Tensor Apply(string name, Tensor x) => name switch
    {
        // gelu_new is GPT-2's tanh approximation, 0.5x(1 + tanh(sqrt(2/pi)(x + 0.044715x^3))).
        "gelu_new" or "gelu_pytorch_tanh" => F.gelu(x, TorchSharp.Modules.GELU.Approximate.tanh),
        "gelu" => F.gelu(x),
        "relu" => F.relu(x),
        "silu" => F.silu(x),
        _ => throw new ArgumentException($"activation '{name}' is not supported (supported: {string.Join(", ", Supported)})"),
    };
}
