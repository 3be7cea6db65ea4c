using LlmEngine.Kernels.Attention;
using LlmEngine.Kernels.Models;
using TorchSharp;

namespace LlmEngine.Tests.Engine;

/// <summary>
/// A model double over a real model that fails on purpose: its forward pass throws
/// <see cref="Fault"/> on call number <see cref="FailOnCall"/> (1-based), and the logits of every
/// row whose token is <see cref="PoisonToken"/> come back as NaN (one request at fault in a batch).
/// <see cref="StepDelay"/> makes every forward pass at least that slow (a step long enough to count in).
/// </summary>
internal sealed class FaultyModel(ICausalLanguageModel inner) : ICausalLanguageModel
{
    private int _calls;

    public int? FailOnCall { get; set; }
    public Exception Fault { get; set; } = new InvalidOperationException("injected fault at /opt/libtorch/lib/libtorch_cpu.so\n  frame #0: c10::Error");
    public int? PoisonToken { get; set; }
    public int Calls => Volatile.Read(ref _calls);
    public TimeSpan StepDelay { get; set; }

    public ModelConfig Config => inner.Config;
    public torch.ScalarType DType => inner.DType;
    public torch.Device Device => inner.Device;

    public torch.Tensor Forward(torch.Tensor tokens, torch.Tensor positions, AttentionBatch batch, IAttentionBackend attention, torch.Tensor logitRows)
    {
        if (Interlocked.Increment(ref _calls) == FailOnCall) throw Fault;
        if (StepDelay > TimeSpan.Zero) Thread.Sleep(StepDelay);
        var logits = inner.Forward(tokens, positions, batch, attention, logitRows);
        if (PoisonToken is not { } poison) return logits;
        var rowTokens = tokens.index_select(0, logitRows).cpu().data<long>().ToArray();
        for (int r = 0; r < rowTokens.Length; r++)
            if (rowTokens[r] == poison) logits[r].fill_(float.NaN);
        return logits;
    }

    public void Dispose() => inner.Dispose();
}
