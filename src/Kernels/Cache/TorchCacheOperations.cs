using LlmEngine.Kernels.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace LlmEngine.Kernels.Cache;

/// <summary>Swap and copy-on-write block moves composed of TorchSharp index operations, one
/// gather and one scatter per layer and direction.</summary>
public sealed class TorchCacheOperations(PagedKvCache device, PagedKvCache? host) : ICacheOperations
{
    public void Apply(CacheOperationsPlan plan)
    {
        using var noGrad = no_grad();
        if (plan.SwapOut.Count > 0) Move(device, Host, plan.SwapOut.Select(p => (p.Device, p.Host)).ToList());
        if (plan.SwapIn.Count > 0) Move(Host, device, plan.SwapIn.Select(p => (p.Host, p.Device)).ToList());
        if (plan.Copies.Count > 0) Move(device, device, plan.Copies.Select(p => (p.Src, p.Dst)).ToList());
    }

    private PagedKvCache Host => host ?? throw new InvalidOperationException("no swap space is configured");

    private static void Move(PagedKvCache from, PagedKvCache to, List<(int From, int To)> pairs)
    {
        using var scope = NewDisposeScope();
        var source = tensor(pairs.Select(p => (long)p.From).ToArray(), dtype: int64, device: from.Device);
        var target = tensor(pairs.Select(p => (long)p.To).ToArray(), dtype: int64, device: to.Device);
        for (int layer = 0; layer < from.NumLayers; layer++)
        {
            to.Keys[layer].index_copy_(0, target, from.Keys[layer].index_select(0, source).to(to.Device));
            to.Values[layer].index_copy_(0, target, from.Values[layer].index_select(0, source).to(to.Device));
        }
    }
}
