using LlmEngine.Kernels.Attention;
using TorchSharp;
using static TorchSharp.torch;

namespace LlmEngine.Tests.Kernels;

public class NativePagedAttentionTests
{
    [Fact]
    public void DecodeMatchesCausalReference()
    {
        using var c = PagedCase.Create(1, [(37, 1), (1, 1), (300, 1), (16, 1), (17, 1)]);
        c.WriteWithTorch();
        using var expected = c.Reference();
        using var actual = c.Native();
        Assert.InRange(Compare.RelativeError(actual, expected), 0, 1e-5);
    }
}
