using TorchSharp;

namespace LlmEngine.Kernels.Runtime;

/// <summary>What runs one pipeline stage of a step: a <see cref="ModelRunner"/> over a stage's
/// model, the tensor-parallel ranks of one (<see cref="Sharding.TensorParallelRunner"/>), or a stage
/// on another node.</summary>
public interface IStageRunner
{
    /// <summary>Applies the step's cache operations to the stage's blocks and runs its layers.</summary>
    /// <param name="hidden">the previous stage's hidden states [tokens, hidden] (read only); null on the first stage</param>
    /// <returns>on the last stage the sample rows' logits on the CPU [samples, vocab] (null when the step samples
    /// nothing), or their hidden states [samples, hidden] when the first stage holds the head
    /// (<see cref="Sharding.PipelineStage.HeadOnFirst"/>); on any other the hidden states after the stage's layers,
    /// owned by the caller; null when the step has no tokens</returns>
    torch.Tensor? Forward(ModelStep step, torch.Tensor? hidden);
}

/// <summary>A first stage that holds the model's final norm and LM head (<see cref="Sharding.PipelineStage.HeadOnFirst"/>).</summary>
public interface IHeadRunner
{
    /// <summary>The logits on the CPU [rows, vocab] of the last layer's hidden states <paramref name="rows"/> [rows, hidden].</summary>
    torch.Tensor Head(torch.Tensor rows);
}

/// <summary>The last step of a pipeline whose first stage holds the head: the logits of the sample rows'
/// hidden states that the last stage returned (null when it returned none).</summary>
public sealed class HeadStageRunner(IHeadRunner first) : IStageRunner
{
    public torch.Tensor? Forward(ModelStep step, torch.Tensor? hidden) => hidden is null ? null : first.Head(hidden);
}
