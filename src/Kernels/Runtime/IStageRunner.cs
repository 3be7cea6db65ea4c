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
    /// nothing); on any other the hidden states after the stage's layers, owned by the caller; null when the step
    /// has no tokens</returns>
    torch.Tensor? Forward(ModelStep step, torch.Tensor? hidden);
}
