using LlmEngine.Kernels.Models;
using LlmEngine.Kernels.Models.Layers;
using LlmEngine.Kernels.Native;
using TorchSharp;
using static TorchSharp.torch;

namespace LlmEngine.Tests.Kernels;

/// <summary>The native grouped-expert kernel (llm::moe_experts) against the TorchSharp composition of
/// <see cref="SparseMoe"/> on the same weights: routing with and without renormalisation, a shared
/// expert, every activation it takes, intermediate sizes off the vector width, both dtypes.</summary>
public class MoeExpertsTests
{
    [Theory]
    [InlineData(1, 64, 96, 4, 2, true, "silu")]
    [InlineData(3, 64, 32, 8, 4, false, "silu")]
    [InlineData(17, 128, 40, 8, 2, true, "silu")]
    [InlineData(64, 64, 96, 8, 2, true, "gelu_pytorch_tanh")]
    [InlineData(9, 64, 48, 6, 3, false, "gelu")]
    [InlineData(5, 32, 16, 4, 1, false, "relu")]
    public void MatchesTheCompositionInFloat32(int tokens, int hidden, int intermediate, int experts, int k, bool renormalize, string activation)
    {
        using var temporaries = torch.NewDisposeScope();
        using var moe = Layer(hidden, intermediate, experts, k, renormalize, activation, float32, shared: !renormalize);
        using var x = randn(new long[] { tokens, hidden }, generator: new Generator(5));
        Assert.True(moe.IsGrouped);
        using var expected = moe.Forward(x, MoePath.Composition);
        using var actual = moe.Forward(x, MoePath.Grouped);
        Assert.True(actual.allclose(expected, rtol: 1e-5, atol: 1e-5), $"max difference {(actual - expected).abs().max().item<float>()}");
    }

    [Theory]
    [InlineData(1)]
    [InlineData(8)]
    [InlineData(33)]
    public void MatchesTheCompositionInBFloat16(int tokens)
    {
        using var temporaries = torch.NewDisposeScope();
        using var moe = Layer(128, 64, 8, 2, true, "silu", bfloat16, shared: false);
        using var x = randn(new long[] { tokens, 128 }, generator: new Generator(9)).to(bfloat16);
        using var expected = moe.Forward(x, MoePath.Composition).to(float32);
        using var actual = moe.Forward(x, MoePath.Grouped).to(float32);
        // The composition rounds each expert's intermediate and output to bfloat16, the kernel sums in
        // float32: a few bfloat16 roundings (2^-8 each) of the output's scale apart.
        float error = (actual - expected).abs().max().item<float>(), scale = expected.abs().max().item<float>();
        Assert.True(error <= 2e-2 * scale, $"max difference {error} at output scale {scale}");
    }

    [Fact]
    public void ARouteOutsideTheExpertsIsAnError()
    {
        using var temporaries = torch.NewDisposeScope();
        using var x = randn(2, 16);
        using var output = empty(2, 16);
        using var routes = tensor(new long[] { 0, 4, 1, 2 }).reshape(2, 2);
        using var weights = ones(2, 2);
        using var gateUp = randn(4, 32, 16);
        using var down = randn(4, 16, 16);
        var error = Assert.Throws<ArgumentException>(() => NativeKernels.MoeExperts(output, x, routes, weights, gateUp, down, 0));
        Assert.Contains("route 4 is not an expert of 4", error.Message);
    }

    private static SparseMoe Layer(int hidden, int intermediate, int experts, int k, bool renormalize, string activation, ScalarType type, bool shared)
    {
        var g = new Generator(11);
        GatedMlp Mlp(int inter) => new(LinearWeight.Of(randn(new long[] { 2 * inter, hidden }, generator: g).mul_(0.2).to(type)),
            LinearWeight.Of(randn(new long[] { hidden, inter }, generator: g).mul_(0.2).to(type)), activation);
        var router = randn(new long[] { experts, hidden }, generator: g).to(type);
        var shape = new MixtureOfExperts(experts, k, intermediate, renormalize, shared ? intermediate : 0);
        var all = Enumerable.Range(0, experts).Select(_ => Mlp(intermediate)).ToArray();
        return shared
            ? new SparseMoe(router, all, shape, Mlp(intermediate), randn(new long[] { 1, hidden }, generator: g).to(type))
            : new SparseMoe(router, all, shape);
    }
}
