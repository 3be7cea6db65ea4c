using LlmEngine.Scheduling.Blocks;

namespace LlmEngine.Scheduling.Tests.Blocks;

public class BlockPoolTests
{
    private static readonly BlockHash H1 = new(1), H2 = new(2);

    [Fact]
    public void AllocateTakesBlocksInIdOrderWithRefcountOne()
    {
        var pool = new BlockPool(3);
        Assert.Equal(new[] { 0, 1 }, new[] { pool.Allocate(), pool.Allocate() });
        Assert.Equal(1, pool.RefCount(0));
        Assert.Equal(1, pool.NumFree);
    }

    [Fact]
    public void ReleasedBlocksAreReusedLeastRecentlyFreedFirst()
    {
        var pool = new BlockPool(3);
        int a = pool.Allocate(), b = pool.Allocate(), c = pool.Allocate();
        pool.Release(b);
        pool.Release(c);
        pool.Release(a);
        Assert.Equal(new[] { b, c, a }, new[] { pool.Allocate(), pool.Allocate(), pool.Allocate() });
    }

    [Fact]
    public void CachedFreeBlockStaysFindableAndCountsAsFree()
    {
        var pool = new BlockPool(2);
        int a = pool.Allocate();
        long prefix = pool.Register(a, H1, BlockPool.RootPrefix, [5, 6]);
        pool.Release(a);
        Assert.Equal(2, pool.NumFree);
        Assert.True(pool.TryGetCached(H1, BlockPool.RootPrefix, [5, 6], out int hit, out long hitPrefix));
        Assert.Equal((a, prefix), (hit, hitPrefix));
    }

    [Fact]
    public void RetainRevivesACachedFreeBlockOutOfTheFreeQueue()
    {
        var pool = new BlockPool(2);
        int a = pool.Allocate();
        pool.Register(a, H1, BlockPool.RootPrefix, [5, 6]);
        pool.Release(a);
        pool.Retain(a);
        Assert.Equal((1, 1), (pool.RefCount(a), pool.NumFree));
        Assert.DoesNotContain(a, pool.FreeOrder());
    }

    [Fact]
    public void AllocatingTheLruHeadEvictsItsCacheEntry()
    {
        var pool = new BlockPool(2);
        int a = pool.Allocate(), b = pool.Allocate();
        pool.Register(a, H1, BlockPool.RootPrefix, [1]);
        pool.Register(b, H2, BlockPool.RootPrefix, [2]);
        pool.Release(a);
        pool.Release(b);
        Assert.Equal(a, pool.Allocate());
        Assert.False(pool.TryGetCached(H1, BlockPool.RootPrefix, [1], out _, out _));
        Assert.True(pool.TryGetCached(H2, BlockPool.RootPrefix, [2], out _, out _));
    }

    [Fact]
    public void SameHashWithDifferentTokensIsAMiss()
    {
        var pool = new BlockPool(1);
        pool.Register(pool.Allocate(), H1, BlockPool.RootPrefix, [1, 2]);
        Assert.False(pool.TryGetCached(H1, BlockPool.RootPrefix, [1, 3], out _, out _));
    }

    [Fact]
    public void SameHashAndTokensAfterADifferentParentIsAMiss()
    {
        var pool = new BlockPool(1);
        pool.Register(pool.Allocate(), H1, parentPrefix: 17, [1, 2]);
        Assert.False(pool.TryGetCached(H1, parentPrefix: 18, [1, 2], out _, out _));
    }

    [Fact]
    public void FirstHolderOfAHashKeepsItAndTheSecondGetsItsOwnPrefixId()
    {
        var pool = new BlockPool(2);
        int a = pool.Allocate(), b = pool.Allocate();
        long first = pool.Register(a, H1, BlockPool.RootPrefix, [1]);
        long second = pool.Register(b, H1, BlockPool.RootPrefix, [9]);
        Assert.NotEqual(first, second);
        Assert.True(pool.TryGetCached(H1, BlockPool.RootPrefix, [1], out int hit, out _));
        Assert.Equal(a, hit);
    }

    [Fact]
    public void ReleasingAFreeBlockThrows()
    {
        var pool = new BlockPool(1);
        Assert.Throws<InvalidOperationException>(() => pool.Release(0));
    }

    [Fact]
    public void RetainingAFreeUncachedBlockThrows()
    {
        var pool = new BlockPool(1);
        Assert.Throws<InvalidOperationException>(() => pool.Retain(0));
    }
}
