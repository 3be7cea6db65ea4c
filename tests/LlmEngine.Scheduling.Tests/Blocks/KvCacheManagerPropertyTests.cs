using CsCheck;

namespace LlmEngine.Scheduling.Tests.Blocks;

public class KvCacheManagerPropertyTests
{
    private static readonly Gen<BlockOp> Op = Gen.Select(Gen.Int[0, 11], Gen.Int[0, 999], Gen.Int[0, 999], (k, a, b) => new BlockOp(k, a, b));

    [Fact]
    public void RandomProgramsKeepEveryInvariantAndEveryTokenReadsItsOwnPrefix() =>
        Gen.Select(Gen.OneOf(1, 8, 16, 32), Gen.Int[1, 24], Gen.Int[0, 12], Gen.Bool, Op.Array[1, 80])
            .Sample((blockSize, blocks, swapBlocks, caching, ops) =>
                new BlockProgram(blockSize, blocks, swapBlocks, caching).Run(ops), iter: 400);
}
