using LlmEngine.Scheduling.Blocks;

namespace LlmEngine.Scheduling.Tests.Blocks;

public class PrefixCachingTests
{
    private readonly KvCacheManager _m = new(numBlocks: 8, blockSize: 4, prefixCaching: true);

    [Fact]
    public void SecondIdenticalPromptSharesTheFullBlocks()
    {
        var prompt = Tokens.Run(9);
        _m.Prefill(1, prompt);
        int computed = _m.Prefill(2, prompt);
        Assert.Equal(8, computed);
        Assert.Equal(_m.BlockTable(1).Take(2), _m.BlockTable(2).Take(2));
    }

    [Fact]
    public void LastTokenIsRecomputedEvenWhenEveryBlockIsCached()
    {
        var prompt = Tokens.Run(8);
        _m.Prefill(1, prompt);
        Assert.Equal(4, _m.Prefill(2, prompt));
        Assert.NotEqual(_m.BlockTable(1)[1], _m.BlockTable(2)[1]);
    }

    [Fact]
    public void PromptsSharingOnlyAHeadShareOnlyItsBlocks()
    {
        _m.Prefill(1, Tokens.Run(9));
        Assert.Equal(4, _m.CachedPrefixLength([.. Tokens.Run(4), 7, 7, 7, 7, 7]));
    }

    [Fact]
    public void CachedPrefixLengthHasNoSideEffects()
    {
        _m.Prefill(1, Tokens.Run(9));
        _m.Free(1);
        _m.CachedPrefixLength(Tokens.Run(9));
        Assert.Equal((8, 0L), (_m.NumFreeBlocks, _m.PrefixHits));
    }

    [Fact]
    public void FreedPromptBlocksAreRevivedByALaterIdenticalPrompt()
    {
        _m.Prefill(1, Tokens.Run(9));
        var old = _m.BlockTable(1).ToArray();
        _m.Free(1);

        Assert.Equal(8, _m.AllocatePrefix(2, Tokens.Run(9)));

        Assert.Equal(old[..2], _m.BlockTable(2));
        Assert.Equal(6, _m.NumFreeBlocks);
    }

    [Fact]
    public void FreeingEvictsTailBlocksBeforeThePromptsHead()
    {
        var m = new KvCacheManager(numBlocks: 3, blockSize: 4, prefixCaching: true);
        m.Prefill(1, Tokens.Run(12));
        m.Free(1);
        m.Prefill(2, Tokens.Run(4, first: 0));
        Assert.Equal(8, m.CachedPrefixLength(Tokens.Run(13)));
        m.Prefill(3, Tokens.Run(4, first: 50));
        Assert.Equal(4, m.CachedPrefixLength(Tokens.Run(13)));
    }

    [Fact]
    public void CountersReportQueriedAndHitTokens()
    {
        _m.Prefill(1, Tokens.Run(9));
        _m.Prefill(2, Tokens.Run(9));
        Assert.Equal((18L, 8L), (_m.PrefixQueries, _m.PrefixHits));
    }

    [Fact]
    public void WithCachingOffNothingIsShared()
    {
        var m = new KvCacheManager(numBlocks: 8, blockSize: 4, prefixCaching: false);
        m.Prefill(1, Tokens.Run(9));
        Assert.Equal(0, m.Prefill(2, Tokens.Run(9)));
        Assert.Empty(m.BlockTable(1).Intersect(m.BlockTable(2)));
    }

    [Fact]
    public void ConcurrentIdenticalPromptsKeepTheirOwnBlocksAndLaterOnesHitTheFirst()
    {
        var prompt = Tokens.Run(9);
        Assert.Equal((0, 0), (_m.AllocatePrefix(1, prompt), _m.AllocatePrefix(2, prompt)));
        Assert.True(_m.TryAllocateSlots(1, prompt, 0, 9, []));
        Assert.True(_m.TryAllocateSlots(2, prompt, 0, 9, []));
        _m.PublishWritten();
        _m.Prefill(3, prompt);
        Assert.Equal(_m.BlockTable(1).Take(2), _m.BlockTable(3).Take(2));
        _m.CheckInvariants();
    }

    [Fact]
    public void FullBlocksAreCachedOnlyOnceTheirStepHasWrittenThem()
    {
        var prompt = Tokens.Run(9);
        _m.AllocatePrefix(1, prompt);
        Assert.True(_m.TryAllocateSlots(1, prompt, 0, 9, []));
        Assert.Equal(0, _m.CachedPrefixLength(prompt));
        _m.DiscardUnwritten();
        Assert.Equal(0, _m.CachedPrefixLength(prompt));
        _m.Free(1);
        _m.Prefill(2, prompt);
        Assert.Equal(8, _m.CachedPrefixLength(prompt));
    }

    [Fact]
    public void HashCollisionBetweenDifferentTokensIsAMiss()
    {
        var m = new KvCacheManager(8, 4, prefixCaching: true, numSwapBlocks: 0, hasher: (_, _) => new BlockHash(7));
        m.Prefill(1, [1, 2, 3, 4, 5]);
        Assert.Equal(0, m.CachedPrefixLength([9, 9, 9, 9, 5]));
    }

    [Fact]
    public void HashCollisionBetweenEqualBlocksAfterDifferentPrefixesIsAMiss()
    {
        // A hasher blind to the parent: block [2 2 2 2] hashes alike wherever it sits.
        var m = new KvCacheManager(8, 4, prefixCaching: true, numSwapBlocks: 0, hasher: (_, t) => BlockHash.Of(BlockHash.Root, t));
        m.Prefill(1, [1, 1, 1, 1, 2, 2, 2, 2, 0]);
        Assert.Equal(0, m.CachedPrefixLength([2, 2, 2, 2, 0]));
    }
}
