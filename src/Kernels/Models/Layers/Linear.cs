using LlmEngine.Kernels.Attention;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace LlmEngine.Kernels.Models.Layers;

/// <summary>
/// y = x · Wᵀ + b. Decode steps of small batches (a few rows) go to the native small-batch
/// kernel, which streams the weights once at memory speed on every core; libtorch's
/// matrix-vector path reads them at well under the machine's bandwidth. Larger batches are
/// compute-bound and stay on libtorch's GEMM.
/// </summary>
public static class Linear
{
    public const int NativeMaxRows = 8;

    public static Tensor Apply(Tensor x, Tensor weight, Tensor? bias = null)
    {
        if (!UsesNative(x, weight)) return F.linear(x, weight, bias);
        var output = empty(new[] { x.shape[0], weight.shape[0] }, dtype: x.dtype, device: x.device);
        NativeKernels.SmallLinear(output, x.contiguous(), weight);
        if (bias is not null) output.add_(bias);
        return output;
    }

    private static bool UsesNative(Tensor x, Tensor weight) =>
        x.dim() == 2 && x.shape[0] >= 1 && x.shape[0] <= NativeMaxRows && x.shape[1] % 16 == 0
        && x.dtype == weight.dtype && (x.dtype == ScalarType.Float32 || x.dtype == ScalarType.BFloat16)
        && x.device_type == DeviceType.CPU && weight.is_contiguous() && NativeKernels.IsAvailable;
}
