using LlmEngine.Kernels.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace LlmEngine.Kernels.Models.Layers;

/// <summary>
/// Rotary position embeddings with cos/sin tables for every position, computed once in float32
/// the way both llama2.c and Hugging Face do (angle = position * inverse frequency, in float32),
/// so logits match those implementations to float32 rounding.
/// <code>
///  interleaved:  pairs (x0,x1) (x2,x3) ...          (llama2.c, Meta checkpoints)
///  half-split:   pairs (x0,x[d/2]) (x1,x[d/2+1]) ... (Hugging Face checkpoints)
/// </code>
/// </summary>
public sealed class RotaryEmbedding : IDisposable
{
    private readonly Tensor _cos, _sin;   // [positions, rotaryDim / 2] float32
    private readonly RotaryStyle _style;

    public RotaryEmbedding(int headSize, int maxPositions, double theta, RotaryStyle style, RopeScaling? scaling, Device device)
    {
        _style = style;
        int half = headSize / 2;
        var inverse = InverseFrequencies(headSize, theta, scaling, ref maxPositions);
        var cos = new float[maxPositions * half];
        var sin = new float[maxPositions * half];
        for (int p = 0; p < maxPositions; p++)
            for (int j = 0; j < half; j++)
            {
                float angle = p * inverse[j];
                cos[p * half + j] = MathF.Cos(angle);
                sin[p * half + j] = MathF.Sin(angle);
            }
        _cos = tensor(cos, dtype: float32, device: device).view(maxPositions, half);
        _sin = tensor(sin, dtype: float32, device: device).view(maxPositions, half);
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

    /// <summary>cos and sin for the given positions, [tokens, 1, headSize / 2], float32.</summary>
    public (Tensor Cos, Tensor Sin) For(Tensor positions) =>
        (_cos.index_select(0, positions).unsqueeze(1), _sin.index_select(0, positions).unsqueeze(1));

    /// <summary>Rotates x [tokens, heads, headSize] (any float dtype) by the given tables.</summary>
    public Tensor Apply(Tensor x, Tensor cos, Tensor sin)
    {
        using var timed = ForwardProfile.Time(ProfileSection.Rotary);
        using var scope = NewDisposeScope();
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
