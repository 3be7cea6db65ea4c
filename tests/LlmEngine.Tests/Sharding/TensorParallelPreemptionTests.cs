using LlmEngine.Scheduling;
using LlmEngine.Tests.Engine;

namespace LlmEngine.Tests.Sharding;

/// <summary>With --tensor-parallel-size 2, a workload whose KV budget forces preemption (recompute
/// and swap: every rank moves its own part of each block), with prefix caching on, generates the
/// dense reference's tokens, and every block is free at the end.</summary>
[Trait("Category", "Slow")]
public class TensorParallelPreemptionTests
{
    [Theory]
    [InlineData(PreemptionMode.Recompute)]
    [InlineData(PreemptionMode.Swap)]
    public Task Stories260KMatchesDenseReferenceUnderPreemption(PreemptionMode mode) =>
        PagedEngineEquivalenceTests.RunAndCompare(PagedEngineEquivalenceTests.Stories.Value, 16, mode, "native", kvTokens: 1600, tensorParallelSize: 2);

    [Theory]
    [InlineData(PreemptionMode.Recompute)]
    [InlineData(PreemptionMode.Swap)]
    public Task GroupedQueryModelMatchesDenseReferenceUnderPreemption(PreemptionMode mode) =>
        PagedEngineEquivalenceTests.RunAndCompare(PagedEngineEquivalenceTests.TinyLlama.Value, 8, mode, "native", kvTokens: 900, tensorParallelSize: 2);
}
