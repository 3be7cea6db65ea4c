using System.Runtime.CompilerServices;
using LlmEngine.Kernels.Quantization;

namespace LlmEngine.Tests.Quantization;

/// <summary>ggml's type ids and block sizes (ggml.h, ggml-common.h): GGUF files store these numbers.</summary>
public class BlockLayoutTests
{
    [Theory]
    [InlineData(GgmlType.F32, 0u, 1, 4)]
    [InlineData(GgmlType.F16, 1u, 1, 2)]
    [InlineData(GgmlType.Q4_0, 2u, 32, 18)]
    [InlineData(GgmlType.Q8_0, 8u, 32, 34)]
    [InlineData(GgmlType.Q4_K, 12u, 256, 144)]
    [InlineData(GgmlType.Q5_K, 13u, 256, 176)]
    [InlineData(GgmlType.Q6_K, 14u, 256, 210)]
    [InlineData(GgmlType.BF16, 30u, 1, 2)]
    public void TypeHasGgmlsIdAndBlockLayout(GgmlType type, uint id, int elements, int bytes)
    {
        var info = GgmlTypeInfo.Of(type);
        Assert.Equal(id, (uint)type);
        Assert.Equal((elements, bytes), (info.BlockElements, info.BlockBytes));
    }

    [Fact]
    public void BlockStructsAreExactlyGgmlsSizes()
    {
        Assert.Equal(34, Unsafe.SizeOf<BlockQ8_0>());
        Assert.Equal(18, Unsafe.SizeOf<BlockQ4_0>());
        Assert.Equal(144, Unsafe.SizeOf<BlockQ4_K>());
        Assert.Equal(176, Unsafe.SizeOf<BlockQ5_K>());
        Assert.Equal(210, Unsafe.SizeOf<BlockQ6_K>());
    }

    [Fact]
    public void RowBytesCountsWholeBlocks() =>
        Assert.Equal(4096 / 256 * 144, GgmlTypeInfo.Of(GgmlType.Q4_K).RowBytes(4096));

    [Fact]
    public void RowThatIsNotWholeBlocksIsRefused()
    {
        var error = Assert.Throws<ArgumentException>(() => GgmlTypeInfo.Of(GgmlType.Q8_0).RowBytes(172));
        Assert.Contains("172", error.Message);
    }

    [Theory]
    [InlineData(GgmlType.Q4_1, "q4_1")]
    [InlineData((GgmlType)16, "#16")]
    public void UnsupportedTypeIsANamedError(GgmlType type, string name)
    {
        var error = Assert.Throws<NotSupportedException>(() => GgmlTypeInfo.Of(type));
        Assert.Contains(name, error.Message);
    }
}
