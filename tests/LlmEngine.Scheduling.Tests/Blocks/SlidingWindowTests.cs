using LlmEngine.Scheduling.Blocks;

namespace LlmEngine.Scheduling.Tests.Blocks;

/// <summary>With a window on every layer, blocks behind the window are released as a sequence moves
/// on (window 6, blocks of 4: query p reads keys p-5..p).</summary>
public class SlidingWindowTests
{
    private static KvCacheManager Manager(bool prefixCaching = false, int numSwapBlocks = 0) =>
        new(numBlocks: 8, blockSize: 4, prefixCaching, numSwapBlocks, slidingWindow: 6);

    /// <summary>Decodes one token at a time from <paramref name="from"/> to <paramref name="to"/>.</summary>
    private static void Decode(KvCacheManager m, long seqId, int from, int to)
    {
        for (int n = from; n < to; n++)
        {
            Assert.True(m.TryAllocateSlots(seqId, Tokens.Run(to), n, 1, []));
            m.PublishWritten();
        }
    }

    [Theory]
    [InlineData(6, 4, 0, 0)]
    [InlineData(6, 4, 8, 0)]
    [InlineData(6, 4, 9, 1)]     // first key needed is 4
    [InlineData(6, 4, 13, 2)]    // first key needed is 8
    [InlineData(6, 4, 12, 1)]
    [InlineData(1, 4, 4, 1)]     // a window of one token reads only itself
    [InlineData(0, 4, 100, 0)]   // no window
    public void BlocksBehindTheWindowEndBeforeTheFirstKeyTheNextTokenReads(int window, int blockSize, int numComputed, int expected) =>
        Assert.Equal(expected, SlidingWindow.BlocksBehind(window, blockSize, numComputed));

    [Fact]
    public void ALongSequenceHoldsOnlyTheBlocksItsWindowReads()
    {
        var m = Manager();
        m.Prefill(1, Tokens.Run(3));
        Decode(m, 1, 3, 200);
        var table = m.BlockTable(1);
        Assert.Equal(50, table.Count);
        Assert.Equal(48, table.Count(b => b == KvCacheManager.SlidOut));
        Assert.Equal(6, m.NumFreeBlocks);
        Assert.Throws<ArgumentOutOfRangeException>(() => m.Slot(1, 190));
        Assert.Equal(table[49] * 4L + 3, m.Slot(1, 199));
        m.CheckInvariants();
        m.Free(1);
        Assert.Equal(8, m.NumFreeBlocks);
        m.CheckInvariants();
    }

    [Fact]
    public void WithoutAWindowTheSameSequenceRunsOutOfBlocks()
    {
        var m = new KvCacheManager(numBlocks: 8, blockSize: 4, prefixCaching: false);
        m.Prefill(1, Tokens.Run(32));
        Assert.False(m.CanAllocate(1, 32, 1));
        Assert.False(m.TryAllocateSlots(1, Tokens.Run(33), 32, 1, []));
    }

    [Fact]
    public void AFullPoolStillAllocatesWhenTheWindowReleasesABlock()
    {
        var m = Manager();
        m.Prefill(1, Tokens.Run(32));   // 8 blocks, the whole pool, none released yet
        Assert.Equal(0, m.NumFreeBlocks);
        Assert.True(m.CanAllocate(1, 32, 1));
        Assert.True(m.TryAllocateSlots(1, Tokens.Run(33), 32, 1, []));
        Assert.Equal(6, m.BlockTable(1).Count(b => b == KvCacheManager.SlidOut));
        m.CheckInvariants();
    }

    [Fact]
    public void ABlockSharedWithAForkIsFreedOnlyWhenEverySharerLeftIt()
    {
        var m = Manager();
        m.Prefill(1, Tokens.Run(8));
        m.Fork(1, 2);
        int first = m.BlockTable(1)[0];
        Decode(m, 1, 8, 12);
        Assert.Equal(KvCacheManager.SlidOut, m.BlockTable(1)[0]);
        Assert.Equal(1, m.RefCount(first));
        Decode(m, 2, 8, 12);
        Assert.Equal(0, m.RefCount(first));
        m.CheckInvariants();
        // A fork of a sequence that slid on shares only what it still holds.
        m.Fork(2, 3);
        Assert.Equal(m.BlockTable(2), m.BlockTable(3));
        m.CheckInvariants();
        foreach (long id in new long[] { 1, 2, 3 }) m.Free(id);
        Assert.Equal(8, m.NumFreeBlocks);
    }

    [Fact]
    public void ReleasedBlocksStayCachedForTheNextSamePrompt()
    {
        var m = Manager(prefixCaching: true);
        var prompt = Tokens.Run(13);
        m.Prefill(1, prompt);
        Decode(m, 1, 13, 14);
        Assert.Equal(2, m.BlockTable(1).Count(b => b == KvCacheManager.SlidOut));
        // The released blocks are free but still hold their content: a new sequence finds them.
        Assert.Equal(12, m.Prefill(2, prompt));
        m.CheckInvariants();
    }

    [Fact]
    public void AFailedStepsUnregisteredBlocksAreNotReleased()
    {
        var m = Manager(prefixCaching: true);
        var prompt = Tokens.Run(13);
        Assert.Equal(0, m.AllocatePrefix(1, prompt));
        Assert.True(m.TryAllocateSlots(1, prompt, 0, 13, []));
        m.DiscardUnwritten();
        // The prompt's blocks were never registered: they stay until a step writes and hashes them.
        Assert.True(m.TryAllocateSlots(1, Tokens.Run(14), 13, 1, []));
        Assert.DoesNotContain(KvCacheManager.SlidOut, m.BlockTable(1));
        m.PublishWritten();
        Assert.True(m.TryAllocateSlots(1, Tokens.Run(15), 14, 1, []));
        Assert.Equal(2, m.BlockTable(1).Count(b => b == KvCacheManager.SlidOut));
        m.CheckInvariants();
    }

    [Fact]
    public void SwappingMovesOnlyTheBlocksStillHeld()
    {
        var m = Manager(numSwapBlocks: 8);
        m.Prefill(1, Tokens.Run(3));
        Decode(m, 1, 3, 20);
        var pairs = m.SwapOut([1]);
        Assert.Equal(2, pairs.Count);
        Assert.Equal((8, 6), (m.NumFreeBlocks, m.NumFreeSwapBlocks));
        m.CheckInvariants();
        m.SwapIn([1]);
        Assert.Equal(3, m.BlockTable(1).Count(b => b == KvCacheManager.SlidOut));
        Assert.Equal((6, 8), (m.NumFreeBlocks, m.NumFreeSwapBlocks));
        Decode(m, 1, 20, 21);
        m.CheckInvariants();
    }

    [Fact]
    public void SharingSavedAndWasteCountOnlyHeldBlocks()
    {
        var m = Manager();
        m.Prefill(1, Tokens.Run(3));
        Decode(m, 1, 3, 18);   // 18 tokens: blocks 0..2 slid out, 3 (12..15) and 4 (16, 17) held
        Assert.Equal(0, m.SharedBlocksSaved);
        Assert.Equal(2, m.WastedSlots(new Dictionary<long, int> { [1] = 18 }));
        Assert.Equal(2, m.Map().Tables.Single().Blocks.Count(b => b != KvCacheManager.SlidOut));
    }
}
