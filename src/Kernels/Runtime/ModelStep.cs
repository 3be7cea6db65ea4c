using LlmEngine.Kernels.Sampling;
using LlmEngine.Scheduling;

namespace LlmEngine.Kernels.Runtime;

/// <summary>
/// One iteration's work for the model runner, as plain data (it crosses from the control plane
/// to the worker): the flattened batch, the attention metadata, which logits to sample from and
/// how, and the cache operations to apply before the forward pass. <see cref="SampleLogitRows"/>
/// names the rows of <see cref="Samples"/> first, then those of <see cref="PromptRows"/>.
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

    /// <summary>Tokens each sequence has in all (prompt and output so far), at least its context
    /// length: a chunk of a long prompt knows the whole prompt's length. Phi-3's longrope picks its
    /// factors by it. Null: the context lengths.</summary>
    public int[]? SequenceLengths { get; init; }

    /// <summary>Prompt positions whose next prompt token is scored this step (prompt logprobs).</summary>
    public PromptRow[] PromptRows { get; init; } = [];
}

/// <summary>A prompt position scored this step: its logits give the log-probability of the prompt
/// token at <see cref="Position"/> (the one after the position computed), with <see cref="Top"/> alternatives.</summary>
public readonly record struct PromptRow(string RequestId, int Position, int TokenId, int Top);
