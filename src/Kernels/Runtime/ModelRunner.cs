using LlmEngine.Kernels.Attention;
using LlmEngine.Kernels.Cache;
using LlmEngine.Kernels.Models;
using LlmEngine.Kernels.Sampling;
using LlmEngine.Scheduling;
using TorchSharp;
using static TorchSharp.torch;

namespace LlmEngine.Kernels.Runtime;

/// <summary>Runs one <see cref="ModelStep"/>: cache operations, one forward pass over the whole
/// flattened batch, then sampling. Only sampled tokens and requested logprobs come back.
/// A tensor-parallel rank uses only <see cref="Forward(ModelStep)"/> (its model, cache and backend hold the
/// rank's share), and <see cref="Sharding.TensorParallelRunner"/> samples the gathered logits; a pipeline
/// stage's runner passes hidden states on (<see cref="Forward(ModelStep, Tensor?)"/>), and a first stage holding the
/// model's head computes the logits of rows a last stage sent back (<see cref="Head"/>).</summary>
public sealed class ModelRunner(ICausalLanguageModel model, IAttentionBackend attention, ICacheOperations? cacheOperations = null) : IStepRunner, IStageRunner, IHeadRunner
{
    public ICausalLanguageModel Model => model;
    public IAttentionBackend Attention => attention;

    private readonly StepTimer _timer = new();

    public double ComputeSeconds => _timer.ComputeSeconds;
    public double SampleSeconds => _timer.SampleSeconds;

    public StepOutput Execute(ModelStep step) => _timer.Execute(this, step);

    /// <inheritdoc/>
    /// <remarks>A tensor-parallel rank's runner returns its slice of the vocabulary.</remarks>
    public Tensor? Forward(ModelStep step) => Forward(step, null);

    /// <inheritdoc/>
    public Tensor? Forward(ModelStep step, Tensor? hidden)
    {
        if (!step.CacheOperations.IsEmpty)
        {
            if (cacheOperations is null) throw new InvalidOperationException($"attention backend '{attention.Name}' has no block cache to operate on");
            cacheOperations.Apply(step.CacheOperations);
        }
        if (step.NumTokens == 0) return null;
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        using var batch = new AttentionBatch(step.SequenceIds, step.QueryStarts, step.ContextLengths, step.BlockTables, step.SlotMapping)
        {
            SequenceLengths = step.SequenceLengths,
        };
        var tokens = tensor(step.TokenIds.Select(t => (long)t).ToArray(), dtype: int64, device: model.Device);
        var positions = tensor(step.Positions.Select(p => (long)p).ToArray(), dtype: int64, device: model.Device);
        var rows = tensor(step.LogitTokenIndices.Select(i => (long)i).ToArray(), dtype: int64, device: model.Device);
        ForwardProfile.BeginStep(step.NumTokens == step.SequenceIds.Length ? ProfilePhase.Decode : ProfilePhase.Prompt);
        var stage = model is IStagedModel staged ? staged.Stage : Sharding.PipelineStage.Whole;
        Tensor output;
        using (ForwardProfile.Time(ProfileSection.Forward))
            output = stage.IsWhole ? model.Forward(tokens, positions, batch, attention, rows) : ((IStagedModel)model).Forward(hidden, tokens, positions, batch, attention, rows);
        if (!stage.IsLast) return output.MoveToOuterDisposeScope();
        if (step.SampleLogitRows.Length == 0) return null;
        // A decode step samples every logits row in order: the logits are already the samples' (no copy of them).
        var perSample = InOrder(step.SampleLogitRows, output.size(0)) ? output
            : output.index_select(0, tensor(step.SampleLogitRows.Select(i => (long)i).ToArray(), dtype: int64, device: model.Device));
        return (perSample.device_type == DeviceType.CPU ? perSample : perSample.cpu()).MoveToOuterDisposeScope();
    }

    private static bool InOrder(int[] rows, long count)
    {
        if (rows.Length != count) return false;
        for (int i = 0; i < rows.Length; i++)
            if (rows[i] != i) return false;
        return true;
    }

    /// <summary>The final norm and LM head on the sample rows' hidden states of a last stage that left them
    /// to this (first) stage (<see cref="Sharding.PipelineStage.HeadOnFirst"/>): logits on the CPU [samples, vocab].</summary>
    public Tensor Head(Tensor rows)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        using (ForwardProfile.Time(ProfileSection.Forward))
            return ((IStagedModel)model).Head(rows.to(model.Device)).cpu().MoveToOuterDisposeScope();
    }

    /// <summary>Chooses each sample row's token from its logits [rows, vocab].</summary>
    public static StepOutput Sample(Tensor logits, SamplingRow[] rows)
    {
        using var profiled = ForwardProfile.Time(ProfileSection.Sampling);
        // The scope holds every temporary of the checks and slices below until sampling ends: one
        // left unreferenced could be freed by its finalizer while libtorch still reads it.
        using var temporaries = NewDisposeScope();
        return SampleRows(logits, rows);
    }

    private static readonly IReadOnlyDictionary<int, Exception> NoFailures = new Dictionary<int, Exception>();

    // One request must not fail the others batched with it: a row whose logits are not numbers
    // fails alone, and when the batched sampler still throws, each row is sampled by itself so
    // that only the rows at fault fail.
    private static StepOutput SampleRows(Tensor logits, SamplingRow[] rows)
    {
        // Plain greedy rows are checked for NaN and infinities as they are read: skip the check's
        // libtorch calls (a few percent of a batch-1 step) when none is found.
        if (Sampler.TryPlainGreedy(logits, rows) is { } plain) return new StepOutput(plain, NoFailures);
        var samples = new SampledToken?[rows.Length];
        var failures = new Dictionary<int, Exception>();
        var broken = logits.isnan().logical_or(logits.isposinf()).any(-1).data<bool>().ToArray();
        var sound = Enumerable.Range(0, rows.Length).Where(i => !broken[i]).ToArray();
        foreach (var i in Enumerable.Range(0, rows.Length).Where(i => broken[i]))
            failures[i] = new InvalidOperationException("the model produced non-finite logits for this request");
        if (sound.Length == 0) return new StepOutput(samples, failures);
        try
        {
            var picked = Sampler.Sample(logits.index_select(0, tensor(sound.Select(i => (long)i).ToArray())), [.. sound.Select(i => rows[i])]);
            for (int j = 0; j < sound.Length; j++) samples[sound[j]] = picked[j];
        }
        catch (Exception)
        {
            foreach (var i in sound)
            {
                try { samples[i] = Sampler.Sample(logits[i..(i + 1)], [rows[i]])[0]; }
                catch (Exception error) { failures[i] = error; }
            }
        }
        return new StepOutput(samples, failures);
    }
}
