using LlmEngine.Kernels.Native;
using LlmEngine.Kernels.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace LlmEngine.Kernels.Models.Layers;

/// <summary>Normalisations computed in float32 whatever the model's dtype, as Hugging Face does.
/// RMSNorms of a few rows are one native call (<see cref="FusedOps"/>), which can also add the
/// residual first.</summary>
internal static class Norms
{
    public static Tensor Rms(Tensor x, Tensor weight, double epsilon) => Rms(x, null, weight, epsilon, unitOffset: false);

    /// <summary>Gemma's RMSNorm: x · (1 + w), the gain applied in float32 before the cast back.</summary>
    public static Tensor RmsUnitOffset(Tensor x, Tensor weight, double epsilon) => Rms(x, null, weight, epsilon, unitOffset: true);

    /// <summary>x += residual in place (when given), then the RMSNorm of x.</summary>
    public static Tensor Rms(Tensor x, Tensor? residual, Tensor weight, double epsilon, bool unitOffset)
    {
        using var timed = ForwardProfile.Time(ProfileSection.Norm);
        if (FusedOps.Takes(x) && weight.dtype == x.dtype && (residual is null || FusedOps.Takes(residual) && residual.dtype == x.dtype))
            return FusedOps.RmsNorm(x, residual, weight, epsilon, unitOffset);
        if (residual is not null) x.add_(residual);
        using var scope = NewDisposeScope();
        var normalized = RmsNormalized(x, epsilon);
        var result = unitOffset ? normalized.mul_(weight.to(float32).add(1)).to(x.dtype) : normalized.to(x.dtype).mul_(weight);
        return result.MoveToOuterDisposeScope();
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
