using LlmEngine.Kernels.Quantization;

namespace LlmEngine.Tests.Quantization;

/// <summary>Blocks written by hand from ggml-common.h's layouts, decoded element by element.</summary>
public class KnownBlockTests
{
    private static float[] Decode(GgmlType type, byte[] block)
    {
        var info = GgmlTypeInfo.Of(type);
        var values = new float[block.Length / info.BlockBytes * info.BlockElements];
        GgmlDequantizer.Dequantize(type, block, values);
        return values;
    }

    private static byte[] HalfBytes(float value) => BitConverter.GetBytes((Half)value);

    [Fact]
    public void Q8_0IsScaleTimesSignedByte()
    {
        var block = HalfBytes(0.5f).Concat(Enumerable.Range(0, 32).Select(i => (byte)(sbyte)(i - 16))).ToArray();
        Assert.Equal(Enumerable.Range(0, 32).Select(i => (i - 16) * 0.5f), Decode(GgmlType.Q8_0, block));
    }

    [Fact]
    public void Q4_0PutsLowNibblesFirstAndHighNibblesInTheSecondHalf()
    {
        // byte i = (low: i, high: 15 - i): element i is (i - 8) d, element i + 16 is (7 - i) d.
        var block = HalfBytes(2f).Concat(Enumerable.Range(0, 16).Select(i => (byte)(i | ((15 - i) << 4)))).ToArray();
        var expected = Enumerable.Range(0, 16).Select(i => (i - 8) * 2f).Concat(Enumerable.Range(0, 16).Select(i => (7 - i) * 2f));
        Assert.Equal(expected, Decode(GgmlType.Q4_0, block));
    }

    [Fact]
    public void F16AndBF16AreWidenedExactly()
    {
        Assert.Equal([1.5f, -2f], Decode(GgmlType.F16, [.. HalfBytes(1.5f), .. HalfBytes(-2f)]));
        // bfloat16 0x3FC0 is 1.5; 0xC000 is -2.
        Assert.Equal([1.5f, -2f], Decode(GgmlType.BF16, [0xC0, 0x3F, 0x00, 0xC0]));
    }

    [Fact]
    public void KQuantScalesUnpackSixBitScalesAndMins()
    {
        byte[] scales = [1, 2, 3, 4, 5, 6, 7, 63];
        byte[] mins = [8, 9, 10, 11, 12, 13, 14, 62];
        var packed = new byte[12];
        KQuantScales.Pack(scales, mins, packed);
        for (int j = 0; j < 8; j++) Assert.Equal((scales[j], mins[j]), KQuantScales.Get(j, packed));
        // Sub-block 7's scale (63) keeps its top two bits in byte 3 and its low nibble in byte 11.
        Assert.Equal(0b11, packed[3] >> 6);
        Assert.Equal(0xF, packed[11] & 0xF);
    }

    [Fact]
    public void Q4_KIsScaledNibbleMinusScaledMin()
    {
        var block = new byte[144];
        HalfBytes(0.5f).CopyTo(block, 0);      // d
        HalfBytes(0.25f).CopyTo(block, 2);     // dmin
        KQuantScales.Pack([1, 2, 3, 4, 5, 6, 7, 8], [0, 1, 2, 3, 4, 5, 6, 7], block.AsSpan(4, 12));
        for (int i = 0; i < 128; i++) block[16 + i] = (byte)(3 | (9 << 4));
        var values = Decode(GgmlType.Q4_K, block);
        // Sub-block 2j takes low nibbles (3) of run j, sub-block 2j + 1 high nibbles (9).
        for (int s = 0; s < 8; s++)
        {
            float expected = 0.5f * (s + 1) * (s % 2 == 0 ? 3 : 9) - 0.25f * s;
            Assert.All(values[(32 * s)..(32 * s + 32)], v => Assert.Equal(expected, v));
        }
    }

    [Fact]
    public void Q5_KAddsSixteenWhereTheHighBitIsSet()
    {
        var block = new byte[176];
        HalfBytes(1f).CopyTo(block, 0);
        KQuantScales.Pack([1, 1, 1, 1, 1, 1, 1, 1], new byte[8], block.AsSpan(4, 12));
        block[16 + 5] = 0b0000_0100;          // qh[5]: bit 2 = sub-block 2 (low nibbles of run 1), element 5
        var values = Decode(GgmlType.Q5_K, block);
        Assert.Equal(16f, values[64 + 5]);
        Assert.Equal(255, values.Count(v => v == 0f));
    }

    [Fact]
    public void Q6_KCombinesFourLowAndTwoHighBitsMinusThirtyTwo()
    {
        var block = new byte[210];
        for (int s = 0; s < 16; s++) block[192 + s] = (byte)(sbyte)(s % 2 == 0 ? 1 : -1);
        HalfBytes(0.5f).CopyTo(block, 208);
        // Element 70 is in the first half, quarter 2 (l = 6): low 4 bits in ql[6] >> 4, high in (qh[6] >> 4) & 3.
        block[6] = 0xA0;                      // low bits 10
        block[128 + 6] = 0b0010_0000;         // high bits 2 -> q = 42, minus 32 = 10
        var values = Decode(GgmlType.Q6_K, block);
        // Sub-block of element 70 is 70 / 16 = 4: scale +1.
        Assert.Equal(0.5f * 1 * 10, values[70]);
        // Everywhere else q = 0 - 32, times the sub-block's scale.
        Assert.Equal(0.5f * -1 * -32, values[16]);
    }
}
