using TorchSharp;
using static TorchSharp.torch;

namespace LlmEngine.Kernels.Native;

/// <summary>
/// Greedy sampling's reductions over a step's logits in one native call (kernels/greedy_rows.cpp):
/// each row's first maximum and its log-probability, the rows spread over the kernels' pool. The
/// managed loops (<see cref="Sampling.RowMath"/>) took ~0.9 ms of a 32-sequence decode step (~4 %)
/// on one thread. Off (the managed loops) when the library is missing or LLM_NATIVE_GREEDY=0.
/// </summary>
internal static unsafe class GreedyRows
{
    private static delegate* unmanaged<IntPtr, long, long, int*, float*, int> _greedyRows;
    private static readonly bool Enabled = Environment.GetEnvironmentVariable("LLM_NATIVE_GREEDY") != "0";

    /// <summary>Fills <paramref name="ids"/> (-1: the row holds a NaN or has no finite maximum) and
    /// <paramref name="logprobs"/> for contiguous float32 CPU <paramref name="logits"/> [rows, vocab];
    /// false when the native kernels are off, and nothing is written.</summary>
    public static bool TryCompute(Tensor logits, Span<int> ids, Span<float> logprobs)
    {
        if (!Enabled || !NativeKernels.IsAvailable) return false;
        if (_greedyRows is null) _greedyRows = (delegate* unmanaged<IntPtr, long, long, int*, float*, int>)NativeKernels.Export("llm_greedy_rows");
        long rows = logits.size(0), vocab = logits.size(1);
        if (ids.Length != rows || logprobs.Length != rows)
            throw new ArgumentException($"greedy_rows: {ids.Length} ids and {logprobs.Length} log-probabilities for {rows} rows");
        int rc;
        fixed (int* i = ids)
        fixed (float* l = logprobs)
            rc = _greedyRows(TensorMemory.DataPointer(logits), rows, vocab, i, l);
        GC.KeepAlive(logits);
        if (rc != 0) throw new ArgumentException($"llm_greedy_rows: {NativeKernels.TakeLastError()}");
        return true;
    }
}
