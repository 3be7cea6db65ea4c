using LlmEngine.Scheduling.Blocks;

namespace LlmEngine.Scheduling.Tests.Blocks;

public class BlockHashTests
{
    [Fact]
    public void SameParentAndTokensGiveTheSameHash() =>
        Assert.Equal(BlockHash.Of(BlockHash.Root, [1, 2, 3]), BlockHash.Of(BlockHash.Root, [1, 2, 3]));

    [Fact]
    public void ParentIsPartOfTheHash()
    {
        var parentA = BlockHash.Of(BlockHash.Root, [1]);
        var parentB = BlockHash.Of(BlockHash.Root, [2]);
        Assert.NotEqual(BlockHash.Of(parentA, [7, 8]), BlockHash.Of(parentB, [7, 8]));
    }

    [Fact]
    public void ExtraKeySeparatesOtherwiseEqualBlocks() =>
        Assert.NotEqual(BlockHash.Of(BlockHash.Root, [1, 2], extraKey: 0), BlockHash.Of(BlockHash.Root, [1, 2], extraKey: 42));

    [Fact]
    public void TokenOrderMatters() =>
        Assert.NotEqual(BlockHash.Of(BlockHash.Root, [1, 2]), BlockHash.Of(BlockHash.Root, [2, 1]));
}
