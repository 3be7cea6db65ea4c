using LlmEngine.Scheduling.Blocks;

namespace LlmEngine.Scheduling.Tests.Blocks;

public class KvCacheManagerAccountingTests
{
    private readonly KvCacheManager _m = new(numBlocks: 8, blockSize: 4, prefixCaching: false);

    [Fact]
    public void WasteIsTheEmptyTailOfThePartialBlock()
    {
        _m.Prefill(1, Tokens.Run(6));
        Assert.Equal((8L, 2L), (_m.AllocatedSlots, _m.WastedSlots(new Dictionary<long, int> { [1] = 6 })));
    }

    [Fact]
    public void SharedBlocksCountOnceInSlotsAndWaste()
    {
        _m.Prefill(1, Tokens.Run(6));
        _m.Fork(1, 2);
        Assert.Equal((8L, 2L), (_m.AllocatedSlots, _m.WastedSlots(new Dictionary<long, int> { [1] = 6, [2] = 6 })));
    }

    [Fact]
    public void SharedBlocksSavedCountsEveryExtraReference()
    {
        _m.Prefill(1, Tokens.Run(6));
        _m.Fork(1, 2);
        _m.Fork(1, 3);
        Assert.Equal(4, _m.SharedBlocksSaved);
    }

    [Fact]
    public void UsageIsTheShareOfBlocksNotFree()
    {
        _m.Prefill(1, Tokens.Run(8));
        Assert.Equal(0.25, _m.Usage);
    }

    [Fact]
    public void InvariantCheckPassesOnAFreshManager() => _m.CheckInvariants();
}
