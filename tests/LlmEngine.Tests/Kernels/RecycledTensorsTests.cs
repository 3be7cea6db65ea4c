using LlmEngine.Kernels.Models.Layers;
using LlmEngine.Kernels.Native;
using TorchSharp;
using static TorchSharp.torch;

namespace LlmEngine.Tests.Kernels;

/// <summary>
/// Tensors over recycled memory (kernels/tensor_buffers.cpp): a large tensor's block comes back for the
/// next tensor of its size class only once libtorch has released every view of it, and the tensors behave
/// as libtorch's own. The sizes (7.6 MB) are of a class no other test makes, so tests running in parallel
/// do not take each other's blocks.
/// </summary>
public class RecycledTensorsTests
{
    private const long Columns = 1_900_000;

    [Fact]
    public void ALargeTensorsBlockComesBackForTheNextOfItsClassOnceEveryViewIsGone()
    {
        using var temporaries = torch.NewDisposeScope();
        if (!NativeKernels.IsAvailable) return;
        var first = RecycledTensors.Empty(1, Columns, ScalarType.Float32);
        IntPtr block = TensorMemory.DataPointer(first);
        Assert.Equal(0, block % 64);
        var view = first.narrow(1, 5, 10);
        first.Dispose();
        using (var second = RecycledTensors.Empty(1, Columns - 1000, ScalarType.Float32))
            Assert.NotEqual(block, TensorMemory.DataPointer(second));  // the view still holds the block
        view.Dispose();
        using var third = RecycledTensors.Empty(1, Columns - 2000, ScalarType.Float32);
        Assert.Equal(block, TensorMemory.DataPointer(third));
    }

    [Fact]
    public void ADisposeScopeReleasesARecycledTensorsBlock()
    {
        // The forward pass frees its temporaries with dispose scopes: a block left to the finalizer would
        // stay out of the cache until a garbage collection.
        if (!NativeKernels.IsAvailable) return;
        IntPtr block;
        using (NewDisposeScope())
        {
            var t = RecycledTensors.Empty(1, Columns + 3000, ScalarType.Float32);
            block = TensorMemory.DataPointer(t);
        }
        using var next = RecycledTensors.Empty(1, Columns + 2000, ScalarType.Float32);
        Assert.Equal(block, TensorMemory.DataPointer(next));
    }

    [Fact]
    public void APromptRowsSizedTensorComesFromTheCacheInTheShapeAsked()
    {
        using var temporaries = torch.NewDisposeScope();
        // 300 KiB: the size of a 128-token prompt's norm or attention output (384 KiB at llama-110m's width), which
        // glibc's memory gave back and faulted in again each step. An odd size class, as above.
        if (!NativeKernels.IsAvailable) return;
        IntPtr block;
        using (var first = RecycledTensors.Empty([7, 11, 1010], ScalarType.Float32))
        {
            Assert.Equal(new long[] { 7, 11, 1010 }, first.shape);
            Assert.True(first.is_contiguous());
            block = TensorMemory.DataPointer(first);
        }
        using var next = RecycledTensors.Empty(1, 7 * 11 * 1010 - 100, ScalarType.Float32);
        Assert.Equal(block, TensorMemory.DataPointer(next));
    }

    [Fact]
    public void ARecycledTensorIsAnOrdinaryContiguousTensor()
    {
        using var temporaries = torch.NewDisposeScope();
        if (!NativeKernels.IsAvailable) return;
        using var t = RecycledTensors.Empty(2, Columns / 2, ScalarType.BFloat16);
        Assert.Equal(new long[] { 2, Columns / 2 }, t.shape);
        Assert.Equal(ScalarType.BFloat16, t.dtype);
        Assert.True(t.is_contiguous());
        t.fill_(3);
        using var sum = t.to(ScalarType.Float32).sum();
        Assert.Equal(3.0 * Columns, sum.item<float>());
        using var small = RecycledTensors.Empty(3, 5, ScalarType.Float32);
        Assert.Equal(new long[] { 3, 5 }, small.shape);
    }

    [Theory]
    [InlineData(ScalarType.Float32)]
    [InlineData(ScalarType.BFloat16)]
    public void APackedProductOfManyRowsInRecycledMemoryIsTheProductIntoNewMemory(ScalarType dtype)
    {
        using var temporaries = torch.NewDisposeScope();
        // 1,100 rows x 512 columns: 2.2 MB of float32 output, so Linear takes it from the cache.
        using var generator = new Generator(5);
        using var x = randn(new long[] { 1100, 64 }, generator: generator).to(dtype);
        using var w = randn(new long[] { 512, 64 }, generator: generator).mul(0.05).to(dtype);
        using var weight = LinearWeight.Of(w.clone());
        if (weight.Packed is null) return;
        using var expected = empty(new long[] { 1100, 512 }, dtype: dtype);
        weight.Packed.Apply(expected, x);
        for (int round = 0; round < 2; round++)
        {
            using var actual = Linear.Apply(x, weight);
            Assert.True(actual.eq(expected).all().item<bool>());
        }
    }
}
