using TorchSharp;

namespace LlmEngine.Kernels.Runtime;

/// <summary>What a worker runs each step with: one <see cref="ModelRunner"/>, or the ranks of a
/// tensor-parallel model behind one (<see cref="Sharding.TensorParallelRunner"/>).</summary>
public interface IStepRunner
{
    StepOutput Execute(ModelStep step);

    /// <summary>Applies the step's cache operations and runs the forward pass, without sampling.</summary>
    /// <returns>the logits of the step's sample rows on the CPU [samples, vocab], owned by the caller;
    /// null when the step samples nothing</returns>
    torch.Tensor? Forward(ModelStep step);

    /// <summary>Seconds spent in the forward pass and sampling, summed over all steps.</summary>
    double ComputeSeconds { get; }

    /// <summary>Of <see cref="ComputeSeconds"/>, the seconds spent choosing tokens from the logits.</summary>
    double SampleSeconds { get; }
}
