using LlmEngine.Actors.Observing;
using LlmEngine.Host.Dashboard;
using LlmEngine.Scheduling.Blocks;
using LlmEngine.Scheduling.Sequences;

namespace LlmEngine.Tests.Dashboard;

/// <summary>The block map the page draws: one cell per block in a known state, the pool's own
/// counters beside it, and the owners of a block at their logical indices.</summary>
public class BlockCellsTests
{
    // B = 4. Request a: sequence 1 (10 tokens) forked into 2, so blocks 0..2 are shared.
    // Request b: sequence 3 hits the 2 cached full blocks of a's prompt, then is swapped out
    // (its 3 blocks move to the host pool; the device copies stay with a).
    private static (KvCacheManager Cache, EngineSnapshot Snapshot) Scene()
    {
        var cache = new KvCacheManager(16, 4, prefixCaching: true, numSwapBlocks: 8);
        var copies = new List<(int, int)>();
        int[] a = [.. Enumerable.Range(1, 10)];
        cache.AllocatePrefix(1, a);
        Assert.True(cache.TryAllocateSlots(1, a, 0, 10, copies));
        cache.PublishWritten(); // the step ran: its full blocks hold their K/V
        cache.Fork(1, 2);
        int[] b = [.. a[..8], 90, 91, 92];
        Assert.Equal(8, cache.AllocatePrefix(3, b));
        Assert.True(cache.TryAllocateSlots(3, b, 8, 3, copies));
        cache.PublishWritten();
        cache.SwapOut(3);
        var requests = new List<RequestState>
        {
            new("a", SequenceStatus.Running, 10, [new(1, 0, 0, 10, false), new(2, 1, 0, 10, false)], DateTime.UtcNow, null, 0),
            new("b", SequenceStatus.Swapped, 11, [new(3, 0, 0, 11, false)], DateTime.UtcNow, null, 1),
        };
        return (cache, new EngineSnapshot(0, 1, cache.Map(), requests));
    }

    [Fact]
    public void CellsCountEachStateAsThePoolsOwnCountersDo()
    {
        var (cache, snapshot) = Scene();
        var cells = BlockCells.Of(snapshot.Blocks);

        Assert.Equal(1, cells.BlocksPerCell);
        Assert.Equal(16, cells.Device.Length);
        Assert.Equal(8, cells.Host.Length);
        Assert.Equal(3, snapshot.Blocks.SharedBlocks);
        Assert.Equal(snapshot.Blocks.SharedBlocks, cells.Device.Count(c => c == 's'));
        Assert.Equal(3, snapshot.Blocks.UsedSwapBlocks);
        Assert.Equal(snapshot.Blocks.UsedSwapBlocks, cells.Host.Count(c => c == 'w'));
        Assert.Equal(cache.NumFreeBlocks, cells.Device.Count(c => c is 'f' or 'c'));
        // b's own (third) block was freed on the device when it swapped out; it was never full, so it caches nothing.
        Assert.Equal(0, cells.Device.Count(c => c == 'c'));
    }

    [Fact]
    public void AFreedFullBlockIsCachedAndEvictable()
    {
        var cache = new KvCacheManager(4, 4, prefixCaching: true);
        int[] tokens = [1, 2, 3, 4, 5];
        cache.AllocatePrefix(1, tokens);
        Assert.True(cache.TryAllocateSlots(1, tokens, 0, 5, []));
        cache.PublishWritten();
        cache.Free(1);
        Assert.Equal("cfff", BlockCells.Of(cache.Map()).Device);
    }

    [Fact]
    public void DetailNamesEachTableThatPointsAtABlockWithItsLogicalIndex()
    {
        var (_, snapshot) = Scene();
        var tables = snapshot.Blocks.Tables.ToDictionary(t => t.SequenceId);
        int second = tables[1].Blocks[1];

        var device = BlockDetail.Of(snapshot, host: false, second, second + 1);
        Assert.Equal([new BlockOwner("a", 0, 1), new BlockOwner("a", 1, 1)], device.Owners.OrderBy(o => o.Completion));
        Assert.Equal(new Dictionary<char, int> { ['s'] = 1 }, device.States);
        Assert.Equal([2], device.RefCounts);

        var host = BlockDetail.Of(snapshot, host: true, tables[3].Blocks[2], tables[3].Blocks[2] + 1);
        Assert.Equal([new BlockOwner("b", 0, 2)], host.Owners);
    }

    [Fact]
    public void AHugeCacheIsDrawnAsAtMostMaxCellsWithTheMostCommonState()
    {
        var cache = new KvCacheManager(100_000, 16, prefixCaching: false);
        Assert.True(cache.TryAllocateSlots(1, new int[16 * 20], 0, 16 * 20, []));
        var cells = BlockCells.Of(cache.Map());

        Assert.Equal(13, cells.BlocksPerCell);
        Assert.Equal((100_000 + 12) / 13, cells.Device.Length);
        Assert.True(cells.Device.Length <= BlockCells.MaxCells);
        // Blocks 0..19 in use: cell 0 (0..12) all of them, cell 1 (13..25) 7 in use and 6 free.
        Assert.StartsWith("uuf", cells.Device);
        Assert.Equal(cells.Device.Length - 2, cells.Device.Count(c => c == 'f'));
    }
}
