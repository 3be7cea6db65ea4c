using TorchSharp;
using static TorchSharp.torch;

namespace LlmEngine.Kernels.Models.Layers;

/// <summary>
/// A sparse mixture of experts (Mixtral, Qwen2-MoE). The router's softmax over all experts, in
/// float32, picks each token's top k; their probabilities are renormalised to sum to one when the
/// config says so. Then each expert runs once, on all the tokens routed to it gathered into one
/// batch (one grouped pass per expert, no per-token loop), and its weighted output is scattered
/// back. A shared expert, scaled by sigmoid(shared_gate · x), adds to every token (Qwen2-MoE).
/// <code>
///  routes [tokens, k] -> sorted by expert -> expert e gets rows r_e -> y[r_e] += w * e(x[r_e])
/// </code>
/// </summary>
public sealed class SparseMoe(Tensor router, GatedMlp[] experts, MixtureOfExperts shape, GatedMlp? shared = null, Tensor? sharedGate = null)
    : IFeedForward
{
    public Tensor Forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var probabilities = Linear.Apply(x, router).to(float32).softmax(-1);
        var (weights, chosen) = probabilities.topk(shape.PerToken, -1);
        if (shape.Renormalize) weights = weights.div(weights.sum(-1, keepdim: true));
        weights = weights.to(x.dtype).flatten();

        var flat = chosen.flatten();
        var order = flat.argsort();
        var tokens = order.div(shape.PerToken, rounding_mode: RoundingMode.floor);
        var counts = flat.bincount(null, experts.Length).cpu().data<long>().ToArray();
        var output = zeros_like(x);
        int start = 0;
        for (int e = 0; e < experts.Length; e++)
        {
            if (counts[e] == 0) continue;
            int end = start + (int)counts[e];
            var routes = order[start..end];
            var rows = tokens[start..end];
            start = end;
            var expert = experts[e].Forward(x.index_select(0, rows));
            output.index_add_(0, rows, expert.mul_(weights.index_select(0, routes).unsqueeze(1)), 1);
        }
        if (shared is not null)
            output.add_(shared.Forward(x).mul_(Linear.Apply(x, sharedGate!).sigmoid_()));
        return output.MoveToOuterDisposeScope();
    }

    public void Dispose()
    {
        router.Dispose();
        foreach (var e in experts) e.Dispose();
        shared?.Dispose();
        sharedGate?.Dispose();
    }
}
