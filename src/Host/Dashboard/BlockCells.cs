using LlmEngine.Actors.Observing;
using LlmEngine.Scheduling.Blocks;

namespace LlmEngine.Host.Dashboard;

/// <summary>
/// The block map as the page draws it: one character per cell, per pool. Device blocks are
/// 'f' free, 'c' free but caching a prefix (evictable), 'u' in use, 's' shared (refcount &gt; 1);
/// host (swap) blocks are 'f' free or 'w' holding a swapped-out sequence. Above
/// <see cref="MaxCells"/> blocks a cell stands for N consecutive blocks and shows the state most
/// of them are in (hovering a cell asks for the exact mix).
/// </summary>
internal sealed record BlockCells(int BlocksPerCell, string Device, string Host)
{
    public const int MaxCells = 8192;

    public static BlockCells Of(BlockMap map)
    {
        int total = Math.Max(map.DeviceRefCounts.Length, map.HostRefCounts.Length);
        int perCell = Math.Max(1, (total + MaxCells - 1) / MaxCells);
        return new BlockCells(perCell,
            Cells(map.DeviceRefCounts.Length, perCell, b => DeviceState(map, b)),
            Cells(map.HostRefCounts.Length, perCell, b => map.HostRefCounts[b] > 0 ? 'w' : 'f'));
    }

    public static char DeviceState(BlockMap map, int block) => map.DeviceRefCounts[block] switch
    {
        0 => map.DeviceCached[block] ? 'c' : 'f',
        1 => 'u',
        _ => 's',
    };

    private static string Cells(int blocks, int perCell, Func<int, char> state)
    {
        var cells = new char[(blocks + perCell - 1) / perCell];
        Span<int> counts = stackalloc int[128];
        for (int c = 0; c < cells.Length; c++)
        {
            if (perCell == 1)
            {
                cells[c] = state(c);
                continue;
            }
            counts.Clear();
            for (int b = c * perCell; b < Math.Min(blocks, (c + 1) * perCell); b++) counts[state(b)]++;
            char best = 'f';
            foreach (char s in "fcusw") if (counts[s] > counts[best]) best = s;
            cells[c] = best;
        }
        return new string(cells);
    }
}

/// <summary>Who points at a block: which request's completion, at which logical index.</summary>
internal sealed record BlockOwner(string RequestId, int Completion, int LogicalIndex);

/// <summary>What the page shows on hover: a range of blocks of one pool, their states and owners.</summary>
internal sealed record BlockDetail(string Pool, int From, int To, Dictionary<char, int> States, IReadOnlyList<int> RefCounts, IReadOnlyList<BlockOwner> Owners)
{
    private const int MaxOwners = 64;

    public static BlockDetail Of(EngineSnapshot snapshot, bool host, int from, int to)
    {
        var map = snapshot.Blocks;
        var refs = host ? map.HostRefCounts : map.DeviceRefCounts;
        from = Math.Clamp(from, 0, refs.Length);
        to = Math.Clamp(to, from, refs.Length);
        var states = new Dictionary<char, int>();
        for (int b = from; b < to; b++)
        {
            char s = host ? (refs[b] > 0 ? 'w' : 'f') : BlockCells.DeviceState(map, b);
            states[s] = states.GetValueOrDefault(s) + 1;
        }
        var bySequence = snapshot.Requests.SelectMany(r => r.Sequences.Select(s => (s.SequenceId, r.RequestId, s.Index)))
            .ToDictionary(p => p.SequenceId);
        var owners = new List<BlockOwner>();
        foreach (var table in map.Tables.Where(t => t.Swapped == host))
            for (int j = 0; j < table.Blocks.Length && owners.Count < MaxOwners; j++)
                if (table.Blocks[j] >= from && table.Blocks[j] < to && bySequence.TryGetValue(table.SequenceId, out var owner))
                    owners.Add(new BlockOwner(owner.RequestId, owner.Index, j));
        return new BlockDetail(host ? "swap" : "device", from, to, states, refs[from..Math.Min(to, from + MaxOwners)], owners);
    }
}
