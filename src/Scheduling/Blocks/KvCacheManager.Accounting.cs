namespace LlmEngine.Scheduling.Blocks;

/// <summary>Memory accounting for metrics, and the invariant check the tests run after every step.</summary>
public sealed partial class KvCacheManager
{
    /// <summary>Slots in device blocks held by tables; a shared block counts once.</summary>
    public long AllocatedSlots => (long)(NumTotalBlocks - NumFreeBlocks) * BlockSize;

    /// <summary>
    /// Device blocks saved by sharing (forks, prefix hits): table entries minus distinct
    /// blocks, which equals the sum over blocks of refcount - 1.
    /// </summary>
    public int SharedBlocksSaved =>
        _seqs.Values.Where(s => !s.Swapped).Sum(s => s.Blocks.Count - s.NumSlidOut) - (NumTotalBlocks - NumFreeBlocks);

    /// <summary>
    /// Allocated slots holding no token, given each device-resident sequence's token count
    /// (<paramref name="numTokens"/> must have them all). A shared block holds as many tokens
    /// as the fullest of its sharers has in it.
    /// </summary>
    public long WastedSlots(IReadOnlyDictionary<long, int> numTokens)
    {
        var filled = new Dictionary<int, int>();
        foreach (var (id, s) in _seqs)
        {
            if (s.Swapped) continue;
            if (!numTokens.TryGetValue(id, out int n)) throw new ArgumentException($"no token count for sequence {id}", nameof(numTokens));
            for (int j = s.NumSlidOut; j < s.Blocks.Count; j++)
            {
                int inBlock = Math.Clamp(n - j * BlockSize, 0, BlockSize);
                filled[s.Blocks[j]] = Math.Max(filled.GetValueOrDefault(s.Blocks[j]), inBlock);
            }
        }
        return AllocatedSlots - filled.Values.Sum(v => (long)v);
    }

    /// <summary>
    /// Throws with the first broken rule: each device block is free (refcount 0, queued once)
    /// or has as many references as device-resident table entries point at it (entries that slid
    /// out of the window are exactly the leading ones and point nowhere); host blocks
    /// likewise for swapped tables; cache entries are owned by their hash and hold B tokens.
    /// </summary>
    public void CheckInvariants()
    {
        var device = new int[_device.NumBlocks];
        var host = new int[_host.NumBlocks];
        foreach (var (id, s) in _seqs)
        {
            var refs = s.Swapped ? host : device;
            if (s.NumHashed > s.Blocks.Count)
                throw new InvalidOperationException($"sequence {id}: {s.NumHashed} hashed blocks but {s.Blocks.Count} in its table");
            for (int j = 0; j < s.Blocks.Count; j++)
            {
                int b = s.Blocks[j];
                if ((b == SlidOut) != (j < s.NumSlidOut))
                    throw new InvalidOperationException($"sequence {id}: entry {j} is {b} but {s.NumSlidOut} leading entries slid out");
                if (b == SlidOut) continue;
                if ((uint)b >= (uint)refs.Length)
                    throw new InvalidOperationException($"sequence {id}: block {b} outside the {(s.Swapped ? "host" : "device")} pool");
                refs[b]++;
            }
        }
        _device.CheckInvariants(device, BlockSize, "device");
        _host.CheckInvariants(host, BlockSize, "host");
    }
}
