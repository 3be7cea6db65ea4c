using LlmEngine.Kernels.Sampling;
using LlmEngine.Scheduling;

namespace LlmEngine.Kernels.Runtime;

/// <summary>
/// One iteration's work for the model runner, as plain data (it crosses from the control plane
/// to the worker): the flattened batch, the attention metadata, which logits to sample from and
/// how, and the cache operations to apply before the forward pass.
/// </summary>
public sealed record ModelStep(
    int[] SequenceIds,
    int[] TokenIds,
    int[] Positions,
    int[] QueryStarts,
    int[] ContextLengths,
    int[][] BlockTables,
    long[] SlotMapping,
    int[] LogitTokenIndices,
    int[] SampleLogitRows,
    SamplingRow[] Samples,
    CacheOperationsPlan CacheOperations)
{
    public int NumTokens => TokenIds.Length;
}
