using LlmEngine.Kernels.Attention;
using LlmEngine.Kernels.Cache;
using LlmEngine.Kernels.Native;
using TorchSharp;
using static TorchSharp.torch;

namespace LlmEngine.Tests.Kernels;

public class NativeKernelsTests
{
    [Fact]
    public void LibraryLoadsAndRegistersItsOperators()
    {
        using var temporaries = torch.NewDisposeScope();
        Assert.Null(NativeKernels.UnavailableReason);
        Assert.True(NativeKernels.IsAvailable);
        Assert.Contains(NativeKernels.Isa, new[] { "avx512", "avx2", "scalar" });
        Assert.InRange(NativeKernels.Threads, 1, 1024);
    }

    [Fact]
    public void AutoPicksTheNativeBackendWhereItLoads()
    {
        using var temporaries = torch.NewDisposeScope();
        using var cache = new PagedKvCache(1, 4, 16, 2, 64, ScalarType.Float32, CPU);
        Assert.IsType<NativePagedAttention>(AttentionBackends.Create(null, cache));
        Assert.IsType<NativePagedAttention>(AttentionBackends.Create("native", cache));
        Assert.IsType<TorchPagedAttention>(AttentionBackends.Create("torch", cache));
        Assert.Throws<ArgumentException>(() => AttentionBackends.Create("flash", cache));
        Assert.Contains(NativeKernels.Isa, AttentionBackends.Describe(CPU));
    }

    [Fact]
    public void TheCallersCpuClockCountsItsOwnWorkAndNotTheWait()
    {
        // bench batch --profile splits a forward pass's CPU time by these clocks: the calling thread's must
        // advance with its work and stand still while it sleeps (the machine may be loaded: wall time is no guide).
        var (start, _) = NativeKernels.CpuNanoseconds;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        long spent = 0;
        while (spent < 5_000_000 && clock.Elapsed < TimeSpan.FromSeconds(20))
            spent = NativeKernels.CpuNanoseconds.Thread - start;
        Assert.True(spent >= 5_000_000, $"{spent} ns of CPU after {clock.Elapsed}");
        var (beforeSleep, pool) = NativeKernels.CpuNanoseconds;
        Thread.Sleep(50);
        Assert.InRange(NativeKernels.CpuNanoseconds.Thread - beforeSleep, 0, 5_000_000);
        Assert.True(pool >= 0);
    }
}

[CollectionDefinition(Name, DisableParallelization = true)]
public class NativeIsaCollection
{
    public const string Name = "native ISA selection (process-wide)";
}

/// <summary>The AVX2 and scalar kernels, selected on a CPU that has better, against the same reference.</summary>
[Collection(NativeIsaCollection.Name)]
public class NativeIsaVariantTests
{
    [Theory]
    [InlineData("avx2", 64, ScalarType.Float32)]
    [InlineData("avx2", 80, ScalarType.BFloat16)]
    [InlineData("avx2", 128, ScalarType.Float32)]
    [InlineData("avx2", 72, ScalarType.BFloat16)]
    [InlineData("scalar", 64, ScalarType.Float32)]
    [InlineData("scalar", 96, ScalarType.BFloat16)]
    [InlineData("avx2", 64, ScalarType.Float16)]
    [InlineData("avx2", 72, ScalarType.Float16)]
    [InlineData("scalar", 80, ScalarType.Float16)]
    public void LowerInstructionSetsMatchTheReference(string isa, int headSize, ScalarType dtype)
    {
        using var temporaries = torch.NewDisposeScope();
        string before = NativeKernels.Isa;
        if (!NativeKernels.SelectIsa(isa)) return;  // this CPU lacks it
        try
        {
            Assert.Equal(isa, NativeKernels.Isa);
            using var c = PagedCase.Create(30 + headSize, [(40, 1), (70, 9), (600, 1), (33, 17)], queryHeads: 4, kvHeads: 2,
                headSize: headSize, dtype: dtype, blockSize: 8);
            c.WriteWithTorch();
            using var expected = c.Reference();
            using var actual = c.Native();
            Assert.InRange(Compare.RelativeError(actual, expected), 0, Compare.Tolerance(dtype));
        }
        finally
        {
            NativeKernels.SelectIsa(before);
        }
    }

    [Theory]
    [InlineData("avx2", ScalarType.Float32)]
    [InlineData("avx2", ScalarType.BFloat16)]
    [InlineData("scalar", ScalarType.Float32)]
    [InlineData("scalar", ScalarType.BFloat16)]
    public void LowerInstructionSetsRoundIntoAFloat16CacheWithTheSameBits(string isa, ScalarType input)
    {
        using var temporaries = torch.NewDisposeScope();
        string before = NativeKernels.Isa;
        if (!NativeKernels.SelectIsa(isa)) return;  // this CPU lacks it
        try
        {
            CacheOperationsTests.AssertFloat16WriteIsTorchsRounding(input);
        }
        finally
        {
            NativeKernels.SelectIsa(before);
        }
    }
}
