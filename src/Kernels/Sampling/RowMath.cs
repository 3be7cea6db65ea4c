using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using TorchSharp;
using static TorchSharp.torch;

namespace LlmEngine.Kernels.Sampling;

/// <summary>
/// Per-row reductions over a step's logits read in place on the CPU: the first maximum and the
/// log-sum-exp. A greedy row that needs nothing else costs one or two passes over its vocabulary
/// here, where the general sampler's dozen libtorch operations cost more than that work at one
/// sequence (about a tenth of a quantized decode step).
/// </summary>
internal static class RowMath
{
    /// <summary>The rows of a float32 CPU tensor [rows, vocab] as one span (no copy): the caller keeps
    /// <paramref name="logits"/> alive while it reads them.</summary>
    public static ReadOnlySpan<float> Values(Tensor logits)
    {
        if (logits.dtype != ScalarType.Float32 || !logits.is_contiguous() || logits.device_type != DeviceType.CPU)
            throw new ArgumentException("expected contiguous float32 logits on the CPU", nameof(logits));
        return MemoryMarshal.Cast<byte, float>(logits.bytes);
    }

    /// <summary>Each row's <see cref="ArgMax"/> (-1: the general sampler decides) and, for a row with one,
    /// its log-probability; <paramref name="values"/> holds the rows [ids.Length, vocab] one after another.</summary>
    public static void Greedy(ReadOnlySpan<float> values, int vocab, Span<int> ids, Span<float> logprobs)
    {
        for (int i = 0; i < ids.Length; i++)
        {
            var row = values.Slice(i * vocab, vocab);
            int id = ids[i] = ArgMax(row);
            if (id >= 0) logprobs[i] = row[id] - LogSumExp(row, row[id]);
        }
    }

    /// <summary>Index of the first maximum (torch.argmax's tie rule: the lowest id), or -1 when the
    /// row holds a NaN or its maximum is not finite (the general sampler decides those).</summary>
    public static int ArgMax(ReadOnlySpan<float> row)
    {
        var max = Vector512.Create(float.NegativeInfinity);
        var nan = Vector512<float>.Zero;
        int i = 0;
        for (; i + 16 <= row.Length; i += 16)
        {
            var v = Vector512.Create(row.Slice(i, 16));
            max = Vector512.Max(max, v);
            nan |= ~Vector512.Equals(v, v);
        }
        if (nan != Vector512<float>.Zero) return -1;
        float best = max.ToScalarMax();
        for (; i < row.Length; i++)
        {
            if (float.IsNaN(row[i])) return -1;
            if (row[i] > best) best = row[i];
        }
        if (!float.IsFinite(best)) return -1;
        return row.IndexOf(best);
    }

    /// <summary>log Σ exp(x) with the maximum factored out (exact for any finite maximum).</summary>
    public static float LogSumExp(ReadOnlySpan<float> row, float max)
    {
        var shift = Vector512.Create(max);
        var sum = Vector512<float>.Zero;
        int i = 0;
        for (; i + 16 <= row.Length; i += 16) sum += Vector512.Exp(Vector512.Create(row.Slice(i, 16)) - shift);
        double total = Vector512.Sum(sum);
        for (; i < row.Length; i++) total += MathF.Exp(row[i] - max);
        return max + (float)Math.Log(total);
    }

    private static float ToScalarMax(this Vector512<float> v)
    {
        float best = v[0];
        for (int k = 1; k < Vector512<float>.Count; k++) best = MathF.Max(best, v[k]);
        return best;
    }
}
