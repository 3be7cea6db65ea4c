using System.Diagnostics;

namespace LlmEngine.Kernels.Runtime;

/// <summary>A step as every <see cref="IStepRunner"/> executes it: its forward pass, then sampling of
/// the returned logits, with the seconds of each added up.</summary>
internal sealed class StepTimer
{
    public double ComputeSeconds { get; private set; }
    public double SampleSeconds { get; private set; }

    public StepOutput Execute(IStepRunner runner, ModelStep step)
    {
        var clock = Stopwatch.StartNew();
        var sampled = StepOutput.Empty;
        using (var logits = runner.Forward(step))
        {
            if (logits is not null)
            {
                long sampling = Stopwatch.GetTimestamp();
                sampled = ModelRunner.Sample(logits, step.Samples);
                SampleSeconds += Stopwatch.GetElapsedTime(sampling).TotalSeconds;
            }
        }
        ComputeSeconds += clock.Elapsed.TotalSeconds;
        return sampled;
    }
}
