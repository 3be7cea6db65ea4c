using System.Diagnostics;
using LlmEngine.Kernels.Sampling;
using LlmEngine.Kernels.Structured;
using LlmEngine.Scheduling;
using static TorchSharp.torch;

namespace LlmEngine.Host.Bench;

/// <summary>One batch size of <c>bench guided</c>: per decode step, the milliseconds spent on the
/// constraint (finding each sequence's mask and advancing its automaton; then what applying the
/// masks adds to the sampler) beside the model's own step time at that batch size.</summary>
internal sealed record GuidedRow(int BatchSize, int Steps, double MaskMilliseconds, double MaxMaskMilliseconds, double SamplerMilliseconds, double StepMilliseconds)
{
    public double GuidedMilliseconds => MaskMilliseconds + SamplerMilliseconds;
    /// <summary>The constraint's time as a share of a step (forward pass and sampling) without it.</summary>
    public double Share => StepMilliseconds > 0 ? GuidedMilliseconds / StepMilliseconds : double.NaN;
}

/// <summary>
/// Measures the guided-decoding engine's cost per step the way the worker pays it: B sequences
/// under one JSON Schema, each step every sequence's mask (<see cref="GuidePosition.Mask"/>; masks
/// are cached per automaton state, so the first steps of a new schema pay for building them), the
/// sampler run on random logits with and without the masks (the difference is what masking adds),
/// and each sequence advanced by the token the masked sampler chose; a sequence that ends starts
/// over, as a new request with the same schema would.
/// </summary>
internal static class GuidedBench
{
    public static GuidedRow Measure(TokenGuide guide, int batchSize, int steps, double stepMilliseconds, int seed)
    {
        int vocab = guide.Vocabulary.Size;
        var positions = Enumerable.Repeat(GuidePosition.Start(guide), batchSize).ToArray();
        var random = new Random(seed);
        var sampling = new SamplingParameters { Temperature = 1 };
        var clock = new Stopwatch();
        double maskTotal = 0, maskMax = 0, samplerExtra = 0;
        var masks = new ulong[batchSize][];
        using var generator = new Generator((ulong)seed);
        for (int step = 0; step < steps; step++)
        {
            using var scope = NewDisposeScope();
            var logits = randn(batchSize, vocab, generator: generator);
            var uniforms = Enumerable.Range(0, batchSize).Select(_ => random.NextDouble()).ToArray();

            clock.Restart();
            for (int i = 0; i < batchSize; i++) masks[i] = positions[i].Mask();
            double maskTime = clock.Elapsed.TotalMilliseconds;

            var plain = Enumerable.Range(0, batchSize).Select(i => new SamplingRow(sampling, [], [], uniforms[i], [], 0)).ToList();
            var guided = Enumerable.Range(0, batchSize).Select(i => plain[i] with { AllowedTokens = masks[i] }).ToList();
            // Alternate the order so that neither run always finds the caches warm.
            double plainTime = 0, guidedTime = 0;
            SampledToken[] chosen = [];
            for (int run = 0; run < 2; run++)
            {
                bool guidedRun = (run + step) % 2 == 0;
                clock.Restart();
                var result = Sampler.Sample(logits, guidedRun ? guided : plain);
                if (guidedRun) { guidedTime = clock.Elapsed.TotalMilliseconds; chosen = result; }
                else plainTime = clock.Elapsed.TotalMilliseconds;
            }
            samplerExtra += guidedTime - plainTime;

            clock.Restart();
            for (int i = 0; i < batchSize; i++)
            {
                int token = chosen[i].TokenId;
                positions[i] = guide.Vocabulary.EndTokens.Contains(token) ? GuidePosition.Start(guide) : positions[i].Advance(token);
            }
            maskTime += clock.Elapsed.TotalMilliseconds;
            maskTotal += maskTime;
            maskMax = Math.Max(maskMax, maskTime);
        }
        return new GuidedRow(batchSize, steps, maskTotal / steps, maskMax, Math.Max(0, samplerExtra / steps), stepMilliseconds);
    }
}
