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
        return RmsNormalized(x, epsilon).to(x.dtype).mul_(weight).MoveToOuterDisposeScope();
    }

    /// <summary>Gemma's RMSNorm: x · (1 + w), the gain applied in float32 before the cast back.</summary>
    public static Tensor RmsUnitOffset(Tensor x, Tensor weight, double epsilon)
    {
        using var timed = ForwardProfile.Time(ProfileSection.Norm);
        using var scope = NewDisposeScope();
        return RmsNormalized(x, epsilon).mul_(weight.to(float32).add(1)).to(x.dtype).MoveToOuterDisposeScope();
    }

    private static Tensor RmsNormalized(Tensor x, double epsilon)
    {
        var x32 = x.to(float32);
        return x32.mul(x32.pow(2).mean(new long[] { -1 }, keepdim: true).add_(epsilon).rsqrt_());
    }

    /// <param name="weight">the gain, or null for a LayerNorm without parameters (OLMo)</param>
    public static Tensor Layer(Tensor x, Tensor? weight, Tensor? bias, double epsilon)
    {
        using var timed = ForwardProfile.Time(ProfileSection.Norm);
        using var scope = NewDisposeScope();
        var normed = nn.functional.layer_norm(x.to(float32), new long[] { x.shape[^1] }, weight?.to(float32), bias?.to(float32), epsilon);
        return normed.to(x.dtype).MoveToOuterDisposeScope();
    }
}
