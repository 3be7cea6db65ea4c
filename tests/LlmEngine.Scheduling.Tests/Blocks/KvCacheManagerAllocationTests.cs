using LlmEngine.Scheduling.Blocks;

namespace LlmEngine.Scheduling.Tests.Blocks;

public class KvCacheManagerAllocationTests
{
    private readonly KvCacheManager _m = new(numBlocks: 8, blockSize: 4, prefixCaching: false);

    [Fact]
    public void PrefillTakesOnlyTheBlocksItsTokensNeed()
    {
        _m.Prefill(1, Tokens.Run(9));
        Assert.Equal(3, _m.BlockTable(1).Count);
    }

    [Fact]
    public void DecodeTakesANewBlockOnlyWhenTheLastOneIsFull()
    {
        var tokens = Tokens.Run(9).ToList();
        _m.Prefill(1, tokens[..5]);
        var sizes = new List<int>();
        for (int n = 5; n < 9; n++)
        {
            Assert.True(_m.TryAllocateSlots(1, tokens, n, 1, []));
            sizes.Add(_m.BlockTable(1).Count);
        }
        Assert.Equal(new[] { 2, 2, 2, 3 }, sizes);
    }

    [Fact]
    public void SlotIsBlockTimesBlockSizePlusOffset()
    {
        _m.Prefill(1, Tokens.Run(4));
        _m.Prefill(2, Tokens.Run(4));
        Assert.True(_m.TryAllocateSlots(1, Tokens.Run(6), 4, 2, []));
        Assert.Equal(_m.BlockTable(1)[1] * 4L + 1, _m.Slot(1, 5));
    }

    [Fact]
    public void SlotBeyondTheTableThrows()
    {
        _m.Prefill(1, Tokens.Run(3));
        Assert.Throws<ArgumentOutOfRangeException>(() => _m.Slot(1, 4));
    }

    [Fact]
    public void ForkSharesEveryBlock()
    {
        _m.Prefill(1, Tokens.Run(6));
        _m.Fork(1, 2);
        Assert.Equal(_m.BlockTable(1), _m.BlockTable(2));
        Assert.All(_m.BlockTable(1), b => Assert.Equal(2, _m.RefCount(b)));
    }

    [Fact]
    public void AppendingToAForkedPartialBlockCopiesItFirst()
    {
        _m.Prefill(1, Tokens.Run(6));
        _m.Fork(1, 2);
        int shared = _m.BlockTable(1)[1];
        var copies = new List<(int Src, int Dst)>();

        Assert.True(_m.TryAllocateSlots(2, Tokens.Run(7), 6, 1, copies));

        int copy = _m.BlockTable(2)[1];
        Assert.Equal(new[] { (shared, copy) }, copies);
        Assert.Equal((1, 1, 2), (_m.RefCount(shared), _m.RefCount(copy), _m.RefCount(_m.BlockTable(1)[0])));
    }

    [Fact]
    public void TheLastSharerWritesInPlace()
    {
        _m.Prefill(1, Tokens.Run(6));
        _m.Fork(1, 2);
        Assert.True(_m.TryAllocateSlots(2, Tokens.Run(7), 6, 1, []));
        var copies = new List<(int Src, int Dst)>();
        Assert.True(_m.TryAllocateSlots(1, Tokens.Run(7), 6, 1, copies));
        Assert.Empty(copies);
    }

    [Fact]
    public void FreeReturnsEveryBlock()
    {
        _m.Prefill(1, Tokens.Run(10));
        _m.Fork(1, 2);
        _m.Free(1);
        _m.Free(2);
        Assert.Equal(_m.NumTotalBlocks, _m.NumFreeBlocks);
        _m.CheckInvariants();
    }

    [Fact]
    public void FreeingAnUnknownSequenceDoesNothing()
    {
        _m.Free(42);
        Assert.Equal(8, _m.NumFreeBlocks);
    }

    [Fact]
    public void FailedAllocationChangesNothing()
    {
        var m = new KvCacheManager(numBlocks: 3, blockSize: 4, prefixCaching: false);
        m.Prefill(1, Tokens.Run(6));
        m.Fork(1, 2);
        var before = m.BlockTable(2).ToArray();
        var copies = new List<(int Src, int Dst)>();

        // Needs a copy of the shared block and a new one; only one is free.
        Assert.False(m.TryAllocateSlots(2, Tokens.Run(9), 6, 3, copies));

        Assert.Equal(before, m.BlockTable(2));
        Assert.Equal((1, 0), (m.NumFreeBlocks, copies.Count));
        Assert.All(before, b => Assert.Equal(2, m.RefCount(b)));
    }

    [Fact]
    public void FailedAllocationOfANewSequenceLeavesNoTable()
    {
        var m = new KvCacheManager(numBlocks: 1, blockSize: 4, prefixCaching: false);
        Assert.False(m.TryAllocateSlots(1, Tokens.Run(5), 0, 5, []));
        Assert.Throws<KeyNotFoundException>(() => m.BlockTable(1));
    }

    [Fact]
    public void CanAllocateCountsTheCopyOfASharedBlock()
    {
        var m = new KvCacheManager(numBlocks: 3, blockSize: 4, prefixCaching: false);
        m.Prefill(1, Tokens.Run(6));
        m.Fork(1, 2);
        Assert.Equal((true, false), (m.CanAllocate(2, 6, 2), m.CanAllocate(2, 6, 3)));
    }

    [Fact]
    public void BlockBudgetCountsOnlyBlocksBeyondTheTable() =>
        Assert.Equal(new[] { 0, 1, 2 }, new[]
        {
            BlockBudget.BlocksNeeded(5, 8, blockSize: 4),
            BlockBudget.BlocksNeeded(8, 9, blockSize: 4),
            BlockBudget.BlocksNeeded(0, 5, blockSize: 4),
        });
}
