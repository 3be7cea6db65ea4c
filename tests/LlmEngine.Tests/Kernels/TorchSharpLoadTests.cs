using TorchSharp;

namespace LlmEngine.Tests.Kernels;

public class TorchSharpLoadTests
{
    [Fact]
    public void MatrixProductRunsOnLibTorch()
    {
        using var temporaries = torch.NewDisposeScope();
        using var a = torch.arange(6, dtype: torch.float32).reshape(2, 3);
        using var b = torch.ones(3, 2, dtype: torch.float32);
        using var c = torch.matmul(a, b);
        Assert.Equal(new float[] { 3, 3, 12, 12 }, c.data<float>().ToArray());
    }

    [Fact]
    public void BFloat16ArithmeticRuns()
    {
        using var temporaries = torch.NewDisposeScope();
        using var a = torch.full(4, 1.5, dtype: torch.bfloat16);
        using var s = (a * 2).sum().to(torch.float32);
        Assert.Equal(12f, s.item<float>());
    }
}
