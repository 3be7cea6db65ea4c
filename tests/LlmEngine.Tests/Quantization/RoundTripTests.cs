using CsCheck;
using LlmEngine.Kernels.Quantization;
using TorchSharp;

namespace LlmEngine.Tests.Quantization;

/// <summary>Quantize then dequantize: each format's error stays within what its step size allows.</summary>
public class RoundTripTests
{
    private static readonly Gen<float[]> Rows = Gen.Float[-4f, 4f].Array[512];

    private static float[] RoundTrip(GgmlType type, float[] x)
    {
        var blocks = new byte[GgmlTypeInfo.Of(type).RowBytes(x.Length)];
        GgmlQuantizer.Quantize(type, x, blocks);
        var y = new float[x.Length];
        GgmlDequantizer.Dequantize(type, blocks, y);
        return y;
    }

    /// <summary>Largest error over each 32-element group, as a fraction of the group's largest magnitude.</summary>
    private static float WorstRelativeError(float[] x, float[] y) => Enumerable.Range(0, x.Length / 32).Max(g =>
    {
        float amax = x.Skip(32 * g).Take(32).Max(MathF.Abs);
        float err = Enumerable.Range(32 * g, 32).Max(i => MathF.Abs(x[i] - y[i]));
        return amax == 0 ? err : err / amax;
    });

    [Theory]
    [InlineData(GgmlType.Q8_0, 1 / 254f + 1e-3f)]  // half a step of amax/127, plus float16 scale rounding
    [InlineData(GgmlType.Q4_0, 1 / 8f + 1e-3f)]    // levels -8..7 of amax/8: the far end is clamped a whole step
    [InlineData(GgmlType.Q6_K, 0.05f)]
    [InlineData(GgmlType.Q5_K, 0.08f)]
    [InlineData(GgmlType.Q4_K, 0.16f)]
    public void ErrorIsWithinHalfAStep(GgmlType type, float bound) =>
        Rows.Sample(x => WorstRelativeError(x, RoundTrip(type, x)) <= bound, iter: 50);

    [Theory]
    [InlineData(GgmlType.F16)]
    [InlineData(GgmlType.BF16)]
    [InlineData(GgmlType.F32)]
    public void FloatTypesRoundToNearest(GgmlType type) =>
        Rows.Sample(x =>
        {
            var y = RoundTrip(type, x);
            return x.Select((v, i) => type switch
            {
                GgmlType.F16 => (float)(Half)v == y[i],
                GgmlType.F32 => v == y[i],
                // Half an ulp of 8 bits; below float32's normal range bfloat16's steps are 2^-133.
                _ => MathF.Abs(v - y[i]) <= MathF.Abs(v) / 256 + 1e-40f,
            }).All(ok => ok);
        }, iter: 20);

    [Fact]
    public void Q8_0MapsTheLargestMagnitudeToPlusOrMinus127()
    {
        var x = new float[32];
        x[3] = -127 / 16f;                            // d = 1/16 exactly
        x[7] = 62.5f / 16;
        var blocks = new byte[34];
        GgmlQuantizer.Quantize(GgmlType.Q8_0, x, blocks);
        Assert.Equal(-127, (sbyte)blocks[2 + 3]);
        Assert.Equal(63, (sbyte)blocks[2 + 7]);      // 62.5 rounds away from zero, as roundf does
    }

    [Fact]
    public void Q4_0UsesMinusEightForTheLargestMagnitude()
    {
        var x = Enumerable.Range(0, 32).Select(i => i == 5 ? 4f : 0.1f * (i % 3)).ToArray();
        var blocks = new byte[18];
        GgmlQuantizer.Quantize(GgmlType.Q4_0, x, blocks);
        Assert.Equal(-0.5f, (float)BitConverter.ToHalf(blocks, 0));
        Assert.Equal(0, blocks[2 + 5] & 0xF);        // level 0 = -8 steps of -0.5
        Assert.Equal(4f, RoundTrip(GgmlType.Q4_0, x)[5]);
    }

    [Theory]
    [InlineData(GgmlType.Q8_0)]
    [InlineData(GgmlType.Q4_0)]
    [InlineData(GgmlType.Q4_K)]
    [InlineData(GgmlType.Q5_K)]
    [InlineData(GgmlType.Q6_K)]
    public void ZerosStayZeros(GgmlType type) => Assert.All(RoundTrip(type, new float[256]), v => Assert.Equal(0f, v));

    [Fact]
    public void QuantizedTensorKeepsRowsApart()
    {
        using var temporaries = torch.NewDisposeScope();
        var x = Enumerable.Range(0, 3 * 64).Select(i => MathF.Sin(i)).ToArray();
        using var tensor = QuantizedTensor.Quantize(GgmlType.Q8_0, [3, 64], x);
        Assert.Equal((3L, 68L, 204L), (tensor.Rows, tensor.RowBytes, tensor.ByteLength));
        var y = new float[x.Length];
        tensor.Dequantize(y);
        Assert.Equal(RoundTrip(GgmlType.Q8_0, x[64..128]), y[64..128]);
        Assert.Equal(0, tensor.Data % 64);
    }

    [Fact]
    public void TorchTensorQuantizesAndDequantizesThroughTheSameReference()
    {
        using var temporaries = torch.NewDisposeScope();
        var x = Enumerable.Range(0, 2 * 256).Select(i => MathF.Cos(0.37f * i)).ToArray();
        using var weights = TorchSharp.torch.tensor(x).reshape(2, 256);
        using var quantized = QuantizedTensorConversions.Quantize(weights, GgmlType.Q4_K);
        using var back = quantized.ToTensor(TorchSharp.torch.ScalarType.Float32);
        Assert.Equal([2L, 256L], back.shape);
        Assert.Equal(RoundTrip(GgmlType.Q4_K, x), back.data<float>().ToArray());
    }
}
