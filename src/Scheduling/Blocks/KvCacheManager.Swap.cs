namespace LlmEngine.Scheduling.Blocks;

/// <summary>
/// Swap preemption: moving whole groups (a parent and its forks) between the device pool and
/// the host pool. A physical block shared inside the group moves once and stays shared on
/// the other side, with the same number of references.
/// <code>
///   device  A:[5][6]  B:[5][9]        5 shared by A and B (refcount 2)
///   out     pairs (5,0) (6,1) (9,2)   host A:[0][1]  B:[0][2]   host 0 refcount 2
/// </code>
/// </summary>
public sealed partial class KvCacheManager
{
    public bool IsSwapped(long seqId) => _seqs.TryGetValue(seqId, out var s) && s.Swapped;

    public bool CanSwapOut(long seqId) => CanSwapOut([seqId]);

    /// <summary>Whether the host pool has a block for each distinct device block of the group.</summary>
    public bool CanSwapOut(IReadOnlyList<long> seqIds) => DistinctBlocks(seqIds, swapped: false) <= _host.NumFree;

    public IReadOnlyList<(int Device, int Host)> SwapOut(long seqId) => SwapOut([seqId]);

    /// <summary>
    /// Moves the group to host blocks and releases its device blocks (those also held outside
    /// the group, e.g. a shared cached prefix, stay on the device). Returns the copies the
    /// cache kernels must make before the freed device blocks are written again.
    /// </summary>
    public IReadOnlyList<(int Device, int Host)> SwapOut(IReadOnlyList<long> seqIds) => Move(seqIds, _device, _host, toHost: true);

    /// <summary>Whether the device pool has a block for each distinct host block of the group.</summary>
    public bool CanSwapIn(IReadOnlyList<long> seqIds) => CanSwapIn(seqIds, headroom: 0);

    /// <summary>Whether the group can swap in and still leave <paramref name="headroom"/> device blocks free.</summary>
    public bool CanSwapIn(IReadOnlyList<long> seqIds, int headroom) => DistinctBlocks(seqIds, swapped: true) + headroom <= _device.NumFree;

    /// <summary>Moves the group back to fresh device blocks; returns the host-to-device copies.</summary>
    public IReadOnlyList<(int Host, int Device)> SwapIn(IReadOnlyList<long> seqIds) => Move(seqIds, _host, _device, toHost: false);

    private List<(int, int)> Move(IReadOnlyList<long> seqIds, BlockPool from, BlockPool to, bool toHost)
    {
        int needed = DistinctBlocks(seqIds, swapped: !toHost);
        if (needed > to.NumFree)
            throw new InvalidOperationException($"{needed} blocks to move but {to.NumFree} free; check CanSwap{(toHost ? "Out" : "In")} first");
        var moved = new Dictionary<int, int>();
        var pairs = new List<(int, int)>();
        foreach (long id in seqIds)
        {
            var s = _seqs[id];
            for (int j = s.NumSlidOut; j < s.Blocks.Count; j++)
            {
                int old = s.Blocks[j];
                if (moved.TryGetValue(old, out int fresh))
                    to.Retain(fresh);
                else
                {
                    moved[old] = fresh = to.Allocate();
                    pairs.Add((old, fresh));
                }
                from.Release(old);
                s.Blocks[j] = fresh;
            }
            s.Swapped = toHost;
        }
        return pairs;
    }

    /// <summary>Distinct blocks of the group, after checking each member is on the expected side, once.</summary>
    private int DistinctBlocks(IReadOnlyList<long> seqIds, bool swapped)
    {
        var blocks = new HashSet<int>();
        var seen = new HashSet<long>();
        foreach (long id in seqIds)
        {
            if (!seen.Add(id)) throw new ArgumentException($"sequence {id} listed twice", nameof(seqIds));
            var s = Get(id);
            if (s.Swapped != swapped) throw new InvalidOperationException($"sequence {id} is {(s.Swapped ? "already" : "not")} swapped out");
            blocks.UnionWith(s.Blocks.Skip(s.NumSlidOut));
        }
        return blocks.Count;
    }
}
