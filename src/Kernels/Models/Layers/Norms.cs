using LlmEngine.Kernels.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace LlmEngine.Kernels.Models.Layers;

/// <summary>Normalisations computed in float32 whatever the model's dtype, as Hugging Face does.</summary>
public static class Norms
{
    public static Tensor Rms(Tensor x, Tensor weight, double epsilon)
    {
        using var timed = ForwardProfile.Time(ProfileSection.Norm);
        using var scope = NewDisposeScope();
        var x32 = x.to(float32);
        var normed = x32.mul(x32.pow(2).mean(new long[] { -1 }, keepdim: true).add_(epsilon).rsqrt_());
        return normed.to(x.dtype).mul_(weight).MoveToOuterDisposeScope();
    }

    public static Tensor Layer(Tensor x, Tensor weight, Tensor bias, double epsilon)
    {
        using var timed = ForwardProfile.Time(ProfileSection.Norm);
        using var scope = NewDisposeScope();
        var normed = nn.functional.layer_norm(x.to(float32), new long[] { x.shape[^1] }, weight.to(float32), bias.to(float32), epsilon);
        return normed.to(x.dtype).MoveToOuterDisposeScope();
    }
}
