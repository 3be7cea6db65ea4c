using LlmEngine.Scheduling;

namespace LlmEngine.Kernels.Cache;

/// <summary>A step's block moves on the paged cache: swap out to the host pool, swap in, then
/// copy-on-write copies, through the cache operations (native kernels where they load).</summary>
internal sealed class BlockMoves(PagedKvCache device, PagedKvCache? host) : ICacheOperations
{
    public void Apply(CacheOperationsPlan plan)
    {
        if (plan.SwapOut.Count > 0) CacheOperations.SwapBlocks(device, Host, plan.SwapOut.Select(p => (p.Device, p.Host)).ToList());
        if (plan.SwapIn.Count > 0) CacheOperations.SwapBlocks(Host, device, plan.SwapIn.Select(p => (p.Host, p.Device)).ToList());
        if (plan.Copies.Count > 0) CacheOperations.CopyBlocks(device, plan.Copies);
    }

    private PagedKvCache Host => host ?? throw new InvalidOperationException("no swap space is configured");
}
