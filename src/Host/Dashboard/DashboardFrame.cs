using LlmEngine.Actors.Observing;
using LlmEngine.Scheduling.Blocks;

namespace LlmEngine.Host.Dashboard;

/// <summary>What the page receives a few times a second: the block map, the pool's own counters,
/// the requests in the engine and the charts, all as of one engine snapshot.</summary>
internal sealed record DashboardFrame(long Step, BlockCells Cells, BlockCounts Counts, IReadOnlyList<RequestRow> Requests, ChartSeries Charts)
{
    public static DashboardFrame Of(EngineSnapshot snapshot, RequestLog log, ChartSeries charts)
    {
        var map = snapshot.Blocks;
        var tables = map.Tables.ToDictionary(t => t.SequenceId);
        var rows = snapshot.Requests.OrderBy(r => r.Arrival).Select(r =>
        {
            var entry = log.Find(r.RequestId);
            var held = Held(r.Sequences.Select(s => tables.GetValueOrDefault(s.SequenceId)).OfType<SequenceBlockTable>().ToList());
            return new RequestRow(r.RequestId, r.Status.ToString().ToLowerInvariant(), r.PromptTokens,
                r.Sequences.Sum(s => s.OutputTokens), r.Sequences.Count, held,
                r.FirstToken is { } first ? Math.Round((first - r.Arrival).TotalMilliseconds, 1) : null,
                entry?.CachedTokens ?? 0, entry?.Changes.Count(c => c.State is "preempted" or "swapped") ?? r.NumPreemptions,
                entry?.Changes.Select(c => new StateChange(Math.Round(RequestLog.Milliseconds(entry.Arrived, c.Time), 1), c.State)).ToList() ?? []);
        }).ToList();
        return new DashboardFrame(snapshot.Step, BlockCells.Of(map),
            new BlockCounts(map.DeviceRefCounts.Length, map.HostRefCounts.Length, map.BlockSize, map.FreeBlocks, map.SharedBlocks, map.UsedSwapBlocks),
            rows, charts);
    }

    // Distinct physical blocks of a request's tables (entries that slid out of the window hold none).
    private static int Held(List<SequenceBlockTable> tables)
    {
        var blocks = new HashSet<(bool, int)>();
        foreach (var t in tables)
            foreach (int b in t.Blocks.Where(b => b != KvCacheManager.SlidOut)) blocks.Add((t.Swapped, b));
        return blocks.Count;
    }
}

/// <summary>The pool's sizes and its own counters (kept by the block pools as references change).</summary>
internal sealed record BlockCounts(int DeviceBlocks, int SwapBlocks, int BlockSize, int Free, int Shared, int Swapped);

/// <summary>A request's row: blocks held counts distinct physical blocks of all its completions;
/// <see cref="CachedTokens"/> is its prompt's prefix-cache hit; <see cref="Preemptions"/> counts
/// recompute preemptions and swap-outs; changes are ms since arrival.</summary>
internal sealed record RequestRow(string Id, string Status, int PromptTokens, int OutputTokens, int Completions, int Blocks,
    double? TtftMs, int CachedTokens, int Preemptions, IReadOnlyList<StateChange> Changes);

internal sealed record StateChange(double AtMs, string State);
