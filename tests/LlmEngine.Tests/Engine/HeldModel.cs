using LlmEngine.Actors.Engine;
using LlmEngine.Kernels.Attention;
using LlmEngine.Kernels.Models;
using LlmEngine.Kernels.Sharding;
using TorchSharp;

namespace LlmEngine.Tests.Engine;

/// <summary>
/// A model double over a real model whose forward passes wait while it is held: a test holds it,
/// submits requests, then releases it, so the next step sees every request at once however slowly
/// the machine delivered them (tiny models would otherwise finish early requests before later ones
/// arrive). The scheduler shares its thread with the step, so it reads the arrivals only once the
/// held step ends.
/// </summary>
internal sealed class HeldModel(ICausalLanguageModel inner) : IStagedModel
{
    // A forgotten release fails the step (and so the test) instead of hanging it.
    private static readonly TimeSpan MostWait = TimeSpan.FromSeconds(60);
    private readonly ManualResetEventSlim _open = new(true);

    public ModelConfig Config => inner.Config;
    public torch.ScalarType DType => inner.DType;
    public torch.Device Device => inner.Device;

    public void Hold() => _open.Reset();
    public void Release() => _open.Set();

    // A pipeline stage's model stays one (its runner asks for the stage's own calls).
    public PipelineStage Stage => (inner as IStagedModel)?.Stage ?? PipelineStage.Whole;

    public torch.Tensor Forward(torch.Tensor tokens, torch.Tensor positions, AttentionBatch batch, IAttentionBackend attention, torch.Tensor logitRows)
    {
        WaitOpen();
        return inner.Forward(tokens, positions, batch, attention, logitRows);
    }

    public torch.Tensor Forward(torch.Tensor? hidden, torch.Tensor tokens, torch.Tensor positions, AttentionBatch batch, IAttentionBackend attention,
        torch.Tensor logitRows)
    {
        WaitOpen();
        return ((IStagedModel)inner).Forward(hidden, tokens, positions, batch, attention, logitRows);
    }

    public torch.Tensor Head(torch.Tensor rows) => ((IStagedModel)inner).Head(rows);

    private void WaitOpen()
    {
        if (!_open.Wait(MostWait)) throw new TimeoutException($"the held model was not released within {MostWait}");
    }

    public void Dispose()
    {
        inner.Dispose();
        _open.Dispose();
    }
}

/// <summary>The held models of one engine (one per tensor-parallel rank and pipeline stage).</summary>
internal sealed class HeldModels
{
    private readonly List<HeldModel> _models = [];

    public ICausalLanguageModel Wrap(ICausalLanguageModel model)
    {
        var held = new HeldModel(model);
        lock (_models) _models.Add(held);
        return held;
    }

    public void Hold() { lock (_models) _models.ForEach(m => m.Hold()); }
    public void Release() { lock (_models) _models.ForEach(m => m.Release()); }

    /// <summary>Holds the engine's steps while <paramref name="submit"/> tells the engine of its requests,
    /// then releases them: a step in flight cannot end before every request submitted is in the scheduler's
    /// mailbox (ahead of the step's result), so the next step sees them all. <paramref name="submit"/> must
    /// tell the engine before it returns: an async method that calls <see cref="InferenceEngine.GenerateAsync"/>
    /// tells the scheduler synchronously, before its first wait for an output.</summary>
    public void SubmitTogether(Action submit)
    {
        Hold();
        try
        {
            submit();
        }
        finally
        {
            Release();
        }
    }
}
