using System.Buffers.Binary;
using System.Text;
using LlmEngine.Kernels.Loading;
using TorchSharp;

namespace LlmEngine.Tests.Loading;

public class SafetensorsWriterTests
{
    private static torch.Tensor Random(torch.ScalarType dtype, params long[] shape)
    {
        var generator = new torch.Generator(1234);
        using var values = torch.randn(shape, generator: generator);
        return values.to(dtype);
    }

    [Theory]
    [InlineData(torch.ScalarType.Float32, "F32")]
    [InlineData(torch.ScalarType.Float16, "F16")]
    [InlineData(torch.ScalarType.BFloat16, "BF16")]
    [InlineData(torch.ScalarType.Float64, "F64")]
    public void TensorReadsBackBitExactInItsStoredDtype(torch.ScalarType dtype, string stored)
    {
        using var temporaries = torch.NewDisposeScope();
        using var dir = new TempDir();
        using var original = Random(dtype, 3, 5, 7);
        SafetensorsWriter.Write(dir.File("t.safetensors"), new Dictionary<string, torch.Tensor> { ["w"] = original });

        using var file = new SafetensorsFile(dir.File("t.safetensors"));
        using var loaded = file.Load("w", dtype);
        Assert.Equal(stored, file.StoredDType("w"));
        Assert.Equal(RawFloats.BytesOf(original), RawFloats.BytesOf(loaded));
    }

    [Theory]
    [InlineData(torch.ScalarType.Float16)]
    [InlineData(torch.ScalarType.BFloat16)]
    public void HalfPrecisionTensorWidensExactlyToFloat32(torch.ScalarType dtype)
    {
        using var temporaries = torch.NewDisposeScope();
        using var dir = new TempDir();
        using var original = Random(dtype, 64, 3);
        SafetensorsWriter.Write(dir.File("t.safetensors"), new Dictionary<string, torch.Tensor> { ["w"] = original });

        using var file = new SafetensorsFile(dir.File("t.safetensors"));
        using var loaded = file.Load("w", torch.ScalarType.Float32);
        using var widened = original.to(torch.ScalarType.Float32);
        Assert.True(RawFloats.Same(loaded, widened));
    }

    [Fact]
    public void MixedDtypesInOneFileEachReadBackWithShape()
    {
        using var temporaries = torch.NewDisposeScope();
        using var dir = new TempDir();
        using var a = Random(torch.ScalarType.Float32, 4, 2);
        using var b = Random(torch.ScalarType.BFloat16, 9);
        using var c = Random(torch.ScalarType.Float16, 2, 2, 2);
        var tensors = new Dictionary<string, torch.Tensor> { ["z.a"] = a, ["b"] = b, ["m.c"] = c };
        SafetensorsWriter.Write(dir.File("t.safetensors"), tensors);

        using var file = new SafetensorsFile(dir.File("t.safetensors"));
        Assert.All(tensors, p =>
        {
            using var loaded = file.Load(p.Key, p.Value.dtype);
            Assert.True(RawFloats.Same(loaded, p.Value), p.Key);
        });
    }

    [Fact]
    public void HeaderIsPaddedWithSpacesToAMultipleOfEight()
    {
        using var temporaries = torch.NewDisposeScope();
        using var dir = new TempDir();
        using var t = Random(torch.ScalarType.Float32, 3);
        SafetensorsWriter.Write(dir.File("t.safetensors"), new Dictionary<string, torch.Tensor> { ["odd_name_x"] = t });

        var bytes = File.ReadAllBytes(dir.File("t.safetensors"));
        long headerLength = (long)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        string header = Encoding.UTF8.GetString(bytes, 8, (int)headerLength);
        Assert.True(headerLength % 8 == 0 && header.TrimEnd(' ').EndsWith('}'), header);
    }

    [Fact]
    public void NonContiguousTensorIsWrittenInLogicalOrder()
    {
        using var temporaries = torch.NewDisposeScope();
        using var dir = new TempDir();
        using var square = torch.arange(6, dtype: torch.ScalarType.Float32).reshape(2, 3);
        using var transposed = square.t();
        SafetensorsWriter.Write(dir.File("t.safetensors"), new Dictionary<string, torch.Tensor> { ["t"] = transposed });

        using var file = new SafetensorsFile(dir.File("t.safetensors"));
        using var loaded = file.Load("t", torch.ScalarType.Float32);
        Assert.Equal(new float[] { 0, 3, 1, 4, 2, 5 }, loaded.data<float>().ToArray());
    }
}
