using LlmEngine.Scheduling.Blocks;

namespace LlmEngine.Scheduling.Tests.Blocks;

public class KvCacheManagerSwapTests
{
    private readonly KvCacheManager _m = new(numBlocks: 8, blockSize: 4, prefixCaching: false, numSwapBlocks: 8);

    /// <summary>Seq 1 [a][b], seq 2 [a][c]: a shared, b and c private after a copy-on-write.</summary>
    private void ForkedPair()
    {
        _m.Prefill(1, Tokens.Run(6));
        _m.Fork(1, 2);
        Assert.True(_m.TryAllocateSlots(2, Tokens.Run(7), 6, 1, []));
    }

    [Fact]
    public void SwapOutMovesEachSharedBlockOnce()
    {
        ForkedPair();
        var pairs = _m.SwapOut([1, 2]);
        Assert.Equal(3, pairs.Count);
        Assert.Equal((8, 5), (_m.NumFreeBlocks, _m.NumFreeSwapBlocks));
    }

    [Fact]
    public void SwapRoundTripKeepsSharingInsideTheGroup()
    {
        ForkedPair();
        _m.SwapOut([1, 2]);
        _m.SwapIn([1, 2]);
        Assert.Equal(_m.BlockTable(1)[0], _m.BlockTable(2)[0]);
        Assert.Equal((2, 5, 8), (_m.RefCount(_m.BlockTable(1)[0]), _m.NumFreeBlocks, _m.NumFreeSwapBlocks));
        _m.CheckInvariants();
    }

    [Fact]
    public void SwapInCopiesBackEveryHostBlockSwappedOut()
    {
        ForkedPair();
        var hostBlocks = _m.SwapOut([1, 2]).Select(p => p.Host).Order();
        Assert.Equal(hostBlocks, _m.SwapIn([1, 2]).Select(p => p.Host).Order());
    }

    [Fact]
    public void SwappedSequenceHasNoSlots()
    {
        _m.Prefill(1, Tokens.Run(3));
        _m.SwapOut(1);
        Assert.True(_m.IsSwapped(1));
        Assert.Throws<InvalidOperationException>(() => _m.Slot(1, 0));
    }

    [Fact]
    public void CannotSwapOutMoreBlocksThanTheHostHas()
    {
        var m = new KvCacheManager(numBlocks: 8, blockSize: 4, prefixCaching: false, numSwapBlocks: 1);
        m.Prefill(1, Tokens.Run(5));
        Assert.False(m.CanSwapOut(1));
    }

    [Fact]
    public void CannotSwapInMoreBlocksThanTheDeviceHasFree()
    {
        var m = new KvCacheManager(numBlocks: 2, blockSize: 4, prefixCaching: false, numSwapBlocks: 2);
        m.Prefill(1, Tokens.Run(8));
        m.SwapOut(1);
        m.Prefill(2, Tokens.Run(1));
        Assert.False(m.CanSwapIn([1]));
    }

    [Fact]
    public void FreeingASwappedSequenceReturnsItsHostBlocks()
    {
        _m.Prefill(1, Tokens.Run(6));
        _m.SwapOut(1);
        _m.Free(1);
        Assert.Equal(8, _m.NumFreeSwapBlocks);
    }

    [Fact]
    public void BlockSharedWithAnotherGroupStaysOnTheDevice()
    {
        var m = new KvCacheManager(numBlocks: 8, blockSize: 4, prefixCaching: true, numSwapBlocks: 8);
        m.Prefill(1, Tokens.Run(5));
        m.Prefill(2, Tokens.Run(5));
        int shared = m.BlockTable(1)[0];
        m.SwapOut(2);
        Assert.Equal(1, m.RefCount(shared));
    }
}
