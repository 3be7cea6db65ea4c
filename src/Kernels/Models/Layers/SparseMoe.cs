using TorchSharp;
using static TorchSharp.torch;

namespace LlmEngine.Kernels.Models.Layers;

/// <summary>How <see cref="SparseMoe"/> computes its experts: Auto takes the native grouped kernel
/// where it is enabled and takes the batch (<see cref="GroupedExperts.Handles"/>), else the composition.</summary>
public enum MoePath { Auto, Composition, Grouped }

/// <summary>
/// A sparse mixture of experts (Mixtral, Qwen2-MoE). The router's softmax over all experts, in
/// float32, picks each token's top k; their probabilities are renormalised to sum to one when the
/// config says so. Then each expert runs once, on all the tokens routed to it gathered into one
/// batch (one grouped pass per expert, no per-token loop), and its weighted output is scattered
/// back. A shared expert, scaled by sigmoid(shared_gate · x), adds to every token (Qwen2-MoE).
/// The native grouped kernel (<see cref="GroupedExperts"/>) computes the same sums in one call;
/// it is opt-in for now (LLM_NATIVE_MOE=on).
/// <code>
///  routes [tokens, k] -> sorted by expert -> expert e gets rows r_e -> y[r_e] += w * e(x[r_e])
/// </code>
/// </summary>
public sealed class SparseMoe : IFeedForward
{
    private readonly Tensor _router;
    private readonly GatedMlp[] _experts;
    private readonly MixtureOfExperts _shape;
    private readonly GatedMlp? _shared;
    private readonly Tensor? _sharedGate;
    private readonly GroupedExperts? _grouped;

    /// <param name="grouped">stack the experts for the native grouped kernel where they allow it</param>
    public SparseMoe(Tensor router, GatedMlp[] experts, MixtureOfExperts shape, GatedMlp? shared = null, Tensor? sharedGate = null, bool grouped = true)
    {
        _router = router;
        _experts = experts;
        _shape = shape;
        _shared = shared;
        _sharedGate = sharedGate;
        _grouped = grouped ? GroupedExperts.Stack(experts) : null;
    }

    /// <summary>Whether the experts are stacked for the native grouped kernel.</summary>
    public bool IsGrouped => _grouped is not null;

    public Tensor Forward(Tensor x) => Forward(x, MoePath.Auto);

    /// <param name="path">Auto: the native kernel where it takes the batch, else the composition</param>
    public Tensor Forward(Tensor x, MoePath path)
    {
        if (path == MoePath.Grouped && _grouped is null) throw new InvalidOperationException("these experts are not stacked for the native grouped kernel");
        using var scope = NewDisposeScope();
        var (weights, chosen) = Choose(x);
        bool grouped = path == MoePath.Grouped || path == MoePath.Auto && GroupedExperts.Enabled && _grouped is not null && _grouped.Handles(x, _shape);
        var output = grouped ? _grouped!.Forward(x, chosen, weights) : Composed(x, chosen, weights);
        if (_shared is not null)
            output.add_(_shared.Forward(x).mul_(Linear.Apply(x, _sharedGate!).sigmoid_()));
        return output.MoveToOuterDisposeScope();
    }

    /// <summary>Each expert some token of <paramref name="x"/> is routed to, with those tokens' rows.</summary>
    public IReadOnlyList<(GatedMlp Expert, Tensor Tokens)> Route(Tensor x) =>
        Groups(Choose(x).Experts).Select(g => (_experts[g.Expert], g.Rows)).ToList();

    // The top k experts of each token and their weights [tokens, k].
    private (Tensor Weights, Tensor Experts) Choose(Tensor x)
    {
        var probabilities = Linear.Apply(x, _router).to(float32).softmax(-1);
        var (weights, chosen) = probabilities.topk(_shape.PerToken, -1);
        return (_shape.Renormalize ? weights.div(weights.sum(-1, keepdim: true)) : weights, chosen);
    }

    // One grouped pass per expert: gather its tokens, run it, scatter its weighted rows back.
    private Tensor Composed(Tensor x, Tensor chosen, Tensor routeWeights)
    {
        var weights = routeWeights.to(x.dtype).flatten();
        var output = zeros_like(x);
        foreach (var (e, rows, routes) in Groups(chosen))
        {
            var expert = _experts[e].Forward(x.index_select(0, rows));
            output.index_add_(0, rows, expert.mul_(weights.index_select(0, routes).unsqueeze(1)), 1);
        }
        return output;
    }

    // The routes [tokens, k] sorted by expert: per expert with tokens, their rows and their indices
    // among the flattened routes.
    private IEnumerable<(int Expert, Tensor Rows, Tensor Routes)> Groups(Tensor chosen)
    {
        var flat = chosen.flatten();
        var order = flat.argsort();
        var tokens = order.div(_shape.PerToken, rounding_mode: RoundingMode.floor);
        var counts = flat.bincount(null, _experts.Length).cpu().data<long>().ToArray();
        int start = 0;
        for (int e = 0; e < _experts.Length; e++)
        {
            if (counts[e] == 0) continue;
            int end = start + (int)counts[e];
            yield return (e, tokens[start..end], order[start..end]);
            start = end;
        }
    }

    public void Dispose()
    {
        _router.Dispose();
        foreach (var e in _experts) e.Dispose();
        _shared?.Dispose();
        _sharedGate?.Dispose();
        _grouped?.Dispose();
    }
}
