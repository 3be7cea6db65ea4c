namespace LlmEngine.Scheduling.Blocks;

/// <summary>The manager's state as observers see it: counters, and a whole copy on request.</summary>
public sealed partial class KvCacheManager
{
    /// <summary>Device blocks referenced by more than one table entry.</summary>
    public int NumSharedBlocks => _device.NumShared;

    /// <summary>Host blocks holding swapped-out sequences.</summary>
    public int NumUsedSwapBlocks => _host.NumBlocks - _host.NumFree;

    /// <summary>Cached device blocks whose content was dropped to reuse them.</summary>
    public long NumEvictions => _device.NumEvicted;

    /// <summary>Copies the pools and tables: O(blocks + table entries), for observers only.</summary>
    public BlockMap Map()
    {
        var device = new int[_device.NumBlocks];
        var cached = new bool[_device.NumBlocks];
        for (int b = 0; b < device.Length; b++)
        {
            device[b] = _device.RefCount(b);
            cached[b] = _device.IsCached(b);
        }
        var host = new int[_host.NumBlocks];
        for (int b = 0; b < host.Length; b++) host[b] = _host.RefCount(b);
        var tables = _seqs.Select(p => new SequenceBlockTable(p.Key, p.Value.Swapped, p.Value.Blocks.ToArray())).ToList();
        return new BlockMap(BlockSize, device, cached, host, tables, NumFreeBlocks, NumSharedBlocks, NumUsedSwapBlocks);
    }
}
