using LlmEngine.Actors.Engine;
using LlmEngine.Scheduling;
using Spectre.Console;

namespace LlmEngine.Host.Bench;

/// <summary>
/// Where the KV cache's memory went over a run, in the manner of the PagedAttention paper's
/// figure 2: the share of all slots holding a token, the share allocated or reserved but holding
/// none (internal fragmentation, plus reservation for the reserved layout), and the share free;
/// averaged over the engine's busy time. Also the waste as a share of allocated slots, the peak
/// of blocks in use, preemptions and the prefix-cache hit rate.
/// </summary>
internal sealed record KvUtilisation(
    string Layout, double TokenShare, double UnusedShare, double WasteOfAllocated,
    int PeakBlocksUsed, int BlocksTotal, long Preemptions, long PrefixQueries, long PrefixHits, double EngineOverhead)
{
    public double FreeShare => Math.Max(0, 1 - TokenShare - UnusedShare);
    public double PrefixHitRate => PrefixQueries == 0 ? 0 : (double)PrefixHits / PrefixQueries;

    public static KvUtilisation From(EngineStatistics s, EngineOptions options) => new(
        options.KvLayout.ToString().ToLowerInvariant(), s.KvTokenShare, s.KvUnusedShare, s.KvWasteFraction,
        s.PeakBlocksUsed, s.BlocksTotal, s.NumPreemptions, s.PrefixCacheQueries, s.PrefixCacheHits, s.EngineOverheadFraction);

    public Dictionary<string, object> ToJson() => new()
    {
        ["layout"] = Layout,
        ["token_share"] = TokenShare,
        ["allocated_unused_share"] = UnusedShare,
        ["free_share"] = FreeShare,
        ["waste_of_allocated"] = WasteOfAllocated,
        ["peak_blocks_used"] = PeakBlocksUsed,
        ["blocks_total"] = BlocksTotal,
        ["num_preemptions"] = Preemptions,
        ["prefix_cache_queries"] = PrefixQueries,
        ["prefix_cache_hits"] = PrefixHits,
        ["prefix_cache_hit_rate"] = PrefixHitRate,
        ["engine_overhead_fraction"] = EngineOverhead,
    };

    /// <summary>A stacked bar of the three shares and a line of the other figures.</summary>
    public void Render(IAnsiConsole console)
    {
        console.Write(new Rule($"KV cache utilisation ({Layout} layout, averaged over busy time)").LeftJustified());
        console.Write(new BreakdownChart().Width(60).ShowPercentage()
            .AddItem("holding tokens", Math.Round(TokenShare * 100, 1), Color.Green)
            .AddItem("allocated, unused", Math.Round(UnusedShare * 100, 1), Color.Red)
            .AddItem("free", Math.Round(FreeShare * 100, 1), Color.Grey));
        console.WriteLine($"holding tokens {TokenShare:P2}, allocated but unused {UnusedShare:P2}, free {FreeShare:P2} of {BlocksTotal} blocks; " +
            $"waste of allocated slots {WasteOfAllocated:P1}; peak {PeakBlocksUsed} blocks in use; " +
            $"{Preemptions} preemptions; prefix-cache hits {PrefixHitRate:P1} of {PrefixQueries} prompt tokens; engine overhead {EngineOverhead:P1} of step time");
    }
}
