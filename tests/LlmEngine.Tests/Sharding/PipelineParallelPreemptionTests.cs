using LlmEngine.Actors.Engine;
using LlmEngine.Scheduling;
using LlmEngine.Tests.Engine;

namespace LlmEngine.Tests.Sharding;

/// <summary>With --pipeline-parallel-size 2 (alone and with two tensor-parallel ranks per stage), a
/// workload whose KV budget forces preemption (recompute and swap: every stage moves its own layers'
/// part of each block), with prefix caching on, generates the dense reference's tokens, and every
/// block is free at the end.</summary>
[Trait("Category", "Slow")]
public class PipelineParallelPreemptionTests
{
    [Theory]
    [InlineData("stories260K", PreemptionMode.Recompute, 1)]
    [InlineData("stories260K", PreemptionMode.Swap, 1)]
    [InlineData("stories260K", PreemptionMode.Recompute, 2)]
    [InlineData("stories260K", PreemptionMode.Swap, 2)]
    [InlineData("llama", PreemptionMode.Recompute, 1)]
    [InlineData("llama", PreemptionMode.Swap, 1)]
    [InlineData("llama", PreemptionMode.Recompute, 2)]
    [InlineData("llama", PreemptionMode.Swap, 2)]
    public Task TwoStagesMatchDenseReferenceUnderPreemption(string model, PreemptionMode mode, int ranks) => model == "llama"
        ? PagedEngineEquivalenceTests.RunAndCompare(PagedEngineEquivalenceTests.TinyLlama.Value, 8, mode, "native", kvTokens: 900, ranks, pipelineParallelSize: 2)
        : PagedEngineEquivalenceTests.RunAndCompare(PagedEngineEquivalenceTests.Stories.Value, 16, mode, "native", kvTokens: 1600, ranks, pipelineParallelSize: 2);
}
