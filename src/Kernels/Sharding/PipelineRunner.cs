using LlmEngine.Kernels.Runtime;
using TorchSharp;

namespace LlmEngine.Kernels.Sharding;

/// <summary>
/// A model split into P pipeline stages in this process, behind the one-runner interface the worker
/// calls: every stage gets the same step (the same block ids; each stage's cache holds its own layers
/// and applies the step's cache operations to them), the stages run in order, each passing its hidden
/// states [tokens, hidden] to the next, and only the last returns logits, sampled once. A stage may
/// itself be tensor-parallel (T x P). Computation is the whole model's, operation for operation, so
/// the logits are bit-identical to P=1.
/// </summary>
public sealed class PipelineRunner(IReadOnlyList<IStageRunner> stages, IDisposable resources) : IStepRunner, IDisposable
{
    private readonly StepTimer _timer = new();

    public int Size => stages.Count;
    public IReadOnlyList<IStageRunner> Stages => stages;
    public double ComputeSeconds => _timer.ComputeSeconds;
    public double SampleSeconds => _timer.SampleSeconds;

    /// <summary>Hidden-state bytes handed from one stage to the next, summed over boundaries and steps.</summary>
    public long BoundaryBytes { get; private set; }
    /// <summary>Stage-to-stage hand-overs so far (P-1 per step with tokens).</summary>
    public int Boundaries { get; private set; }

    public StepOutput Execute(ModelStep step) => _timer.Execute(this, step);

    public torch.Tensor? Forward(ModelStep step)
    {
        torch.Tensor? hidden = null;
        try
        {
            for (int s = 0; s < stages.Count; s++)
            {
                var output = stages[s].Forward(step, hidden);
                hidden?.Dispose();
                hidden = output;
                if (s < stages.Count - 1 && hidden is not null)
                {
                    BoundaryBytes += hidden.numel() * hidden.ElementSize;
                    Boundaries++;
                }
            }
            return hidden;
        }
        catch
        {
            hidden?.Dispose();
            throw;
        }
    }

    public void Dispose() => resources.Dispose();
}
