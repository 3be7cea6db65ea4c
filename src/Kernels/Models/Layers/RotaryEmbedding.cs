using LlmEngine.Kernels.Attention;
using LlmEngine.Kernels.Native;
using LlmEngine.Kernels.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace LlmEngine.Kernels.Models.Layers;

/// <summary>
/// Rotary position embeddings with cos/sin tables for every position, computed once in float32
/// the way both llama2.c and Hugging Face do (angle = position * inverse frequency, in float32),
/// so logits match those implementations to float32 rounding. The first <c>headSize</c> dimensions
/// of each head are rotated, the rest pass through (GPT-NeoX's partial rotary).
/// <code>
///  interleaved:  pairs (x0,x1) (x2,x3) ...          (llama2.c, Meta checkpoints)
///  half-split:   pairs (x0,x[d/2]) (x1,x[d/2+1]) ... (Hugging Face checkpoints)
/// </code>
/// Phi-3's longrope has two tables, short and long factors, stacked: positions of a sequence
/// longer than the original context read the second (see <see cref="For(Tensor, AttentionBatch)"/>).
/// </summary>
internal sealed class RotaryEmbedding : IDisposable
{
    private readonly Tensor _cos, _sin;   // [positions (x2 with longrope), rotaryDim / 2] float32
    private readonly RotaryStyle _style;
    private readonly int _half, _maxPositions, _longAfter;

    /// <param name="headSize">dimensions rotated (a head's, or its rotary share)</param>
    public RotaryEmbedding(int headSize, int maxPositions, double theta, RotaryStyle style, RopeScaling? scaling, Device device)
    {
        _style = style;
        int half = _half = headSize / 2;
        var tables = scaling?.Type == "longrope"
            ? new[] { LongRope(headSize, theta, scaling.ShortFactors), LongRope(headSize, theta, scaling.LongFactors) }
            : new[] { InverseFrequencies(headSize, theta, scaling, ref maxPositions) };
        float magnitude = (float)(scaling?.Type == "longrope" ? scaling.AttentionFactor : 1);
        _maxPositions = maxPositions;
        _longAfter = scaling?.Type == "longrope" ? scaling.OriginalMaxPositions : 0;
        var cos = new float[tables.Length * maxPositions * half];
        var sin = new float[tables.Length * maxPositions * half];
        for (int t = 0; t < tables.Length; t++)
            for (int p = 0; p < maxPositions; p++)
                for (int j = 0; j < half; j++)
                {
                    float angle = p * tables[t][j];
                    int at = (t * maxPositions + p) * half + j;
                    cos[at] = MathF.Cos(angle) * magnitude;
                    sin[at] = MathF.Sin(angle) * magnitude;
                }
        _cos = tensor(cos, dtype: float32, device: device).view(-1, half);
        _sin = tensor(sin, dtype: float32, device: device).view(-1, half);
    }

    private static float[] LongRope(int headSize, double theta, IReadOnlyList<double> factors)
    {
        if (factors.Count != headSize / 2)
            throw new Loading.ModelLoadException($"rope_scaling longrope: {factors.Count} factors given, {headSize / 2} expected (half the rotary dimensions)");
        return Enumerable.Range(0, headSize / 2)
            .Select(j => 1f / ((float)factors[j] * MathF.Pow((float)theta, 2 * j / (float)headSize))).ToArray();
    }

    private static float[] InverseFrequencies(int headSize, double theta, RopeScaling? scaling, ref int maxPositions)
    {
        int half = headSize / 2;
        float baseValue = (float)theta;
        if (scaling?.Type == "dynamic")
        {
            // Fixed NTK scaling for the extended context, as vLLM does (no per-length change,
            // which a KV cache could not follow).
            double extended = maxPositions * scaling.Factor;
            baseValue = (float)(theta * Math.Pow(scaling.Factor * extended / maxPositions - (scaling.Factor - 1), headSize / (headSize - 2.0)));
            maxPositions = (int)extended;
        }
        var inverse = new float[half];
        for (int j = 0; j < half; j++)
            inverse[j] = 1f / MathF.Pow(baseValue, 2 * j / (float)headSize);
        if (scaling?.Type == "linear")
            for (int j = 0; j < half; j++) inverse[j] /= (float)scaling.Factor;
        if (scaling?.Type == "llama3") ScaleLlama3(inverse, scaling);
        return inverse;
    }

    private static void ScaleLlama3(float[] inverse, RopeScaling s)
    {
        double lowWavelength = s.OriginalMaxPositions / s.LowFrequencyFactor;
        double highWavelength = s.OriginalMaxPositions / s.HighFrequencyFactor;
        for (int j = 0; j < inverse.Length; j++)
        {
            double wavelength = 2 * Math.PI / inverse[j];
            if (wavelength < highWavelength) continue;
            if (wavelength > lowWavelength) { inverse[j] = (float)(inverse[j] / s.Factor); continue; }
            double smooth = (s.OriginalMaxPositions / wavelength - s.LowFrequencyFactor) / (s.HighFrequencyFactor - s.LowFrequencyFactor);
            inverse[j] = (float)((1 - smooth) * inverse[j] / s.Factor + smooth * inverse[j]);
        }
    }

    /// <summary>Dimensions rotated per head, halved (the width of a row of <see cref="For(Tensor)"/>'s tables).</summary>
    public int Half => _half;

    /// <summary>Whether pairs are (2i, 2i + 1) rather than (i, i + half).</summary>
    public bool Interleaved => _style == RotaryStyle.Interleaved;

    /// <summary>cos and sin for the given positions, [tokens, 1, headSize / 2], float32.</summary>
    public (Tensor Cos, Tensor Sin) For(Tensor positions) =>
        (_cos.index_select(0, positions).unsqueeze(1), _sin.index_select(0, positions).unsqueeze(1));

    /// <summary>
    /// cos and sin for a batch's tokens. With longrope, a sequence that has more tokens than the
    /// original context (<see cref="AttentionBatch.SequenceLengths"/>: a long prompt's first chunk
    /// counts the whole prompt) uses the long factors at every position, as transformers does (it
    /// picks the factors by the longest position of a forward pass over the whole sequence). Keys
    /// cached while the sequence was shorter were rotated with the short factors; the scheduler
    /// recomputes such a sequence when it crosses (see <see cref="ModelConfig.RecomputeAfter"/>).
    /// </summary>
    public (Tensor Cos, Tensor Sin) For(Tensor positions, AttentionBatch batch)
    {
        if (_longAfter == 0) return For(positions);
        var offsets = new long[batch.NumTokens];
        var lengths = batch.SequenceLengths!;
        for (int s = 0; s < batch.NumSequences; s++)
            if (Math.Max(lengths[s], batch.ContextLengths[s]) > _longAfter)
                Array.Fill(offsets, _maxPositions, batch.QueryStarts[s], batch.QueryLength(s));
        using var shift = tensor(offsets, dtype: int64, device: positions.device);
        using var shifted = positions.add(shift);
        return For(shifted);
    }

    /// <summary>
    /// Rotates in place the first <paramref name="heads"/> heads of each row of <paramref name="rows"/>
    /// [tokens, width] (a fused projection whose rows start with the query and key heads), in one native
    /// call, when the rows are few enough for <see cref="FusedOps"/>; false (nothing done) otherwise.
    /// The same float32 arithmetic as <see cref="Apply"/>, each product and sum rounded on its own.
    /// </summary>
    public bool TryRotateInPlace(Tensor rows, int heads, int headSize, Tensor cos, Tensor sin)
    {
        if (!FusedOps.Takes(rows) || headSize < 2 * _half || !cos.is_contiguous() || !sin.is_contiguous()) return false;
        using var timed = ForwardProfile.Time(ProfileSection.Rotary);
        FusedOps.Rotary(rows, heads, headSize, _half, cos, sin, _style == RotaryStyle.Interleaved);
        return true;
    }

    /// <summary>Rotates x [tokens, heads, headSize] (any float dtype) by the given tables.</summary>
    public Tensor Apply(Tensor x, Tensor cos, Tensor sin)
    {
        using var timed = ForwardProfile.Time(ProfileSection.Rotary);
        using var scope = NewDisposeScope();
        if (x.shape[^1] > 2 * _half)
        {
            var parts = x.split(new long[] { 2 * _half, x.shape[^1] - 2 * _half }, -1);
            return cat(new[] { Apply(parts[0], cos, sin), parts[1] }, -1).MoveToOuterDisposeScope();
        }
        var x32 = x.to(float32);
        Tensor rotated;
        if (_style == RotaryStyle.Interleaved)
        {
            var pairs = x32.view(x.shape[0], x.shape[1], -1, 2);
            var even = pairs.select(-1, 0);
            var odd = pairs.select(-1, 1);
            rotated = stack(new[] { even * cos - odd * sin, even * sin + odd * cos }, -1).flatten(2);
        }
        else
        {
            var halves = x32.chunk(2, -1);
            rotated = cat(new[] { halves[0] * cos - halves[1] * sin, halves[1] * cos + halves[0] * sin }, -1);
        }
        return rotated.to(x.dtype).MoveToOuterDisposeScope();
    }

    public void Dispose()
    {
        _cos.Dispose();
        _sin.Dispose();
    }
}
