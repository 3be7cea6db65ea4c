using LlmEngine.Kernels.Cache;
using LlmEngine.Kernels.Workers;
using LlmEngine.Scheduling;
using LlmEngine.Tests.Loading;

namespace LlmEngine.Tests.Kernels;

/// <summary>The data-plane worker sizes its KV cache from its options alone: --num-blocks as given,
/// a cache sized from memory capped at what max-num-seqs full-length sequences use, and a swap pool
/// only for swap preemption.</summary>
public class WorkerTests
{
    private static WorkerOptions Options(int numBlocks) => new()
    {
        Model = SharedModels.Stories260K, LoadFormat = "auto", DType = "float32", Device = "cpu", BlockSize = 16,
        NumBlocks = numBlocks, SwapSpaceGiB = 0.001,
    };

    [Fact]
    public void TheCacheHoldsTheBlocksAskedForAndNoSwapPoolUnderRecompute()
    {
        using var worker = Worker.Create(Options(numBlocks: 24));
        Assert.Equal((24, 0), (worker.DeviceBlocks, worker.SwapBlocks));
    }

    [Fact]
    public void SwapPreemptionGetsAsManySwapBlocksAsTheSwapSpaceHolds()
    {
        using var worker = Worker.Create(Options(numBlocks: 24) with { PreemptionMode = PreemptionMode.Swap });
        var config = worker.Model.Config;
        long perBlock = PagedKvCache.BytesPerBlock(config.NumLayers, 16, config.KvHeads, config.HeadSize, worker.Model.Model.DType);
        Assert.Equal((int)(0.001 * (1L << 30) / perBlock), worker.SwapBlocks);
    }

    [Theory]
    [InlineData(1, 1, "bfloat16", null)]
    [InlineData(2, 2, "bfloat16", null)]   // every rank of every stage sizes its part of the cache alike
    [InlineData(1, 1, "float16", null)]
    [InlineData(2, 2, "float16", null)]
    [InlineData(1, 1, "auto", "q8_0")]     // auto under quantized weights: float16
    public void A16BitCacheHoldsTwiceTheBlocksOfAFloat32OneInTheSameSpace(int tensorParallel, int pipelineParallel, string dtype, string? quantization)
    {
        var options = Options(numBlocks: 0) with
        {
            KvCacheSpaceGiB = 0.001, PreemptionMode = PreemptionMode.Swap, TensorParallelSize = tensorParallel, PipelineParallelSize = pipelineParallel,
            Quantization = quantization,
        };
        using var exact = Worker.Create(options with { KvCacheDType = "float32" });
        using var rounded = Worker.Create(options with { KvCacheDType = dtype });
        Assert.Equal((2 * exact.DeviceBlocks, 2 * exact.SwapBlocks), (rounded.DeviceBlocks, rounded.SwapBlocks));
    }

    [Fact]
    public void ACacheSizedFromMemoryHoldsAtMostMaxNumSeqsFullLengthSequences()
    {
        // 2 sequences of 64 tokens in blocks of 16: 8 blocks, far below a quarter of the memory.
        using var worker = Worker.Create(Options(numBlocks: 0) with { MaxNumSeqs = 2, MaxModelLength = 64 });
        Assert.Equal(8, worker.DeviceBlocks);
    }

    [Fact]
    public void MaxModelLengthIsCappedAtTheModelsPositions()
    {
        using var worker = Worker.Create(Options(numBlocks: 4));
        var config = worker.Model.Config;
        Assert.Equal(config.MaxPositions, (Options(4) with { MaxModelLength = config.MaxPositions + 1 }).MaxModelLengthOf(config));
        Assert.Equal(config.MaxPositions - 1, (Options(4) with { MaxModelLength = config.MaxPositions - 1 }).MaxModelLengthOf(config));
    }
}
