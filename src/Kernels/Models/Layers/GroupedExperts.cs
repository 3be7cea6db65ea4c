using LlmEngine.Kernels.Native;
using LlmEngine.Kernels.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace LlmEngine.Kernels.Models.Layers;

/// <summary>
/// The experts of a <see cref="SparseMoe"/> stacked into gate_up [E, 2I, d] and down [E, d, I] for the
/// native grouped kernel (<c>llm::moe_experts</c>): one call per layer for every expert, where the
/// TorchSharp composition issues about a dozen operators per expert and syncs for the counts. The
/// experts' own <see cref="GatedMlp"/>s become views of the stacks, so the weights are held once and
/// the composition still runs on them (prompt chunks, other devices, the tests' reference).
/// Decode-sized batches and short prompts only: past <see cref="Handles"/>'s bound each expert has
/// enough rows for libtorch's GEMM to win (measured in docs/models.md).
/// </summary>
public sealed class GroupedExperts : IDisposable
{
    public const int MaxRowsPerExpert = Linear.NativeMaxRowsFloat32;
    public const int MaxRowsPerExpertBFloat16 = Linear.NativeMaxRowsBFloat16;

    private static readonly Dictionary<string, int> ActivationCodes = new()
    {
        ["silu"] = 0, ["gelu_pytorch_tanh"] = 1, ["gelu_new"] = 1, ["gelu"] = 2, ["relu"] = 3,
    };

    /// <summary>Whether <see cref="SparseMoe"/> takes the kernel on its own (LLM_NATIVE_MOE=on). Off by
    /// default: in the engine on the shared 2-core machine its decode steps were slower than the
    /// composition's (docs/models.md), which needs a measurement on a quiet machine to explain.</summary>
    public static bool Enabled { get; } = Environment.GetEnvironmentVariable("LLM_NATIVE_MOE") == "on";

    private readonly Tensor _gateUp;
    private readonly Tensor _down;
    private readonly IReadOnlyList<Tensor> _views;
    private readonly int _activation;

    private GroupedExperts(Tensor gateUp, Tensor down, IReadOnlyList<Tensor> views, int activation)
    {
        _gateUp = gateUp;
        _down = down;
        _views = views;
        _activation = activation;
    }

    // The stack on huge pages, as LinearWeight places every other weight (a step streams it whole);
    // the experts view it, not owned, so LinearWeight does not place them again. Before, each
    // expert's view was copied onto huge pages of its own while the kernel read the unadvised
    // stack: the experts' weights were held twice.
    // Weights packed for the bfloat16 GEMM are unpacked for the stack.
    private static Tensor Placed(LinearWeight[] weights)
    {
        var dense = weights.Select(w => w.DenseOrUnpacked()!).ToArray();
        var stacked = stack(dense);
        for (int i = 0; i < weights.Length; i++)
            if (!ReferenceEquals(dense[i], weights[i].Dense)) dense[i].Dispose();
        var placed = HugePages.Place(stacked);
        if (!ReferenceEquals(placed, stacked)) stacked.Dispose();
        return placed.DetachFromDisposeScope();
    }

    /// <summary>Stacks the experts and replaces each by views of the stacks; null (experts untouched)
    /// when they are not all dense float32 or bfloat16 CPU weights with one activation the kernel knows.</summary>
    public static GroupedExperts? Stack(GatedMlp[] experts)
    {
        if (experts.Length == 0 || !ActivationCodes.TryGetValue(experts[0].Activation, out int code)) return null;
        var first = Type(experts[0].GateUp);
        bool eligible = experts.All(e => e.Activation == experts[0].Activation && Plain(e.GateUp) && Plain(e.Down)
            && Type(e.GateUp) == first && Type(e.Down) == first)
            && first is (DeviceType.CPU, ScalarType.Float32 or ScalarType.BFloat16);
        if (!eligible) return null;
        var gateUp = Placed(experts.Select(e => e.GateUp).ToArray());
        var down = Placed(experts.Select(e => e.Down).ToArray());
        var views = new List<Tensor>();
        for (int i = 0; i < experts.Length; i++)
        {
            string activation = experts[i].Activation;
            experts[i].Dispose();
            Tensor g = gateUp[i].DetachFromDisposeScope(), d = down[i].DetachFromDisposeScope();
            views.Add(g);
            views.Add(d);
            // Views of the stacks stay dense (the kernel reads the stacks): no packed copy beside them.
            experts[i] = new GatedMlp(LinearWeight.Of(g, owned: false, pack: false), LinearWeight.Of(d, owned: false, pack: false), activation);
        }
        return new GroupedExperts(gateUp, down, views, code);
    }

    /// <summary>Whether the kernel takes this batch (when <see cref="Enabled"/>): up to <see cref="MaxRowsPerExpert"/> routed tokens
    /// per expert on average in float32, <see cref="MaxRowsPerExpertBFloat16"/> in bfloat16 (where
    /// libtorch's bfloat16 GEMM wins sooner), as <see cref="Linear"/> divides the dense products.</summary>
    public bool Handles(Tensor x, MixtureOfExperts shape) =>
        x.shape[0] * shape.PerToken <= (x.dtype == ScalarType.BFloat16 ? MaxRowsPerExpertBFloat16 : MaxRowsPerExpert) * shape.Count
        && x.dtype == _gateUp.dtype && x.device_type == DeviceType.CPU && NativeKernels.IsAvailable;

    /// <param name="routes">[tokens, k] the chosen experts</param>
    /// <param name="weights">[tokens, k] their weights</param>
    public Tensor Forward(Tensor x, Tensor routes, Tensor weights)
    {
        using var timed = ForwardProfile.Time(ProfileSection.Linear);
        var output = empty_like(x);
        using var input = x.contiguous();
        // Each step in a variable: an unreferenced temporary could be freed by its finalizer mid-call.
        using var routes64 = routes.to(int64);
        using var r = routes64.contiguous();
        using var weights32 = weights.to(float32);
        using var w = weights32.contiguous();
        NativeKernels.MoeExperts(output, input, r, w, _gateUp, _down, _activation);
        return output;
    }

    public void Dispose()
    {
        foreach (var view in _views) view.Dispose();
        _gateUp.Dispose();
        _down.Dispose();
    }

    private static bool Plain(LinearWeight w) => (w.Dense is not null || w.Packed is not null) && w.QuantizedParts is null && !w.HalfInputs;

    private static (DeviceType, ScalarType)? Type(LinearWeight w) =>
        w.Dense is { } d ? (d.device_type, d.dtype) : w.Packed is { } p ? (DeviceType.CPU, p.DType) : null;
}
