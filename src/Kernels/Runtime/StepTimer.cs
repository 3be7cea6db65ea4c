using System.Diagnostics;
using TorchSharp;

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
                // The sample rows come first, then the prompt rows (ModelStep.SampleLogitRows).
                int samples = step.Samples.Length;
                if (samples > 0)
                {
                    using var head = logits.narrow(0, 0, samples);
                    sampled = ModelRunner.Sample(head, step.Samples);
                }
                if (step.PromptRows.Length > 0)
                {
                    using var tail = logits.narrow(0, samples, step.PromptRows.Length);
                    sampled = sampled with { Prompts = ScorePrompts(tail, step.PromptRows) };
                }
                SampleSeconds += Stopwatch.GetElapsedTime(sampling).TotalSeconds;
            }
        }
        ComputeSeconds += clock.Elapsed.TotalSeconds;
        return sampled;
    }

    private static ScoredPromptToken[] ScorePrompts(torch.Tensor logits, PromptRow[] rows)
    {
        var scored = Sampling.Sampler.ScorePrompt(logits, [.. rows.Select(r => r.TokenId)], [.. rows.Select(r => r.Top)]);
        return [.. rows.Select((r, i) => new ScoredPromptToken(r.RequestId, r.Position, scored[i]))];
    }
}
