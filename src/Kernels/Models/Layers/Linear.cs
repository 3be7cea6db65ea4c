using LlmEngine.Kernels.Attention;
using LlmEngine.Kernels.Native;
using LlmEngine.Kernels.Runtime;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace LlmEngine.Kernels.Models.Layers;

/// <summary>
/// y = x · Wᵀ + b. Weights packed at load (<see cref="LinearWeight.Packed"/>: float32 on AVX-512, bfloat16
/// with AVX512_BF16) take the packed GEMM at every row count: a decode step streams them once, a prompt
/// chunk runs register tiles at GEMM speed, and each output is summed in one order whatever the batch
/// (`bench linear` compares it with libtorch's GEMM and the small-batch kernel). Dense weights (packing
/// off, or a CPU without AVX-512) go to the native small-batch kernel for decode steps: at a few rows it
/// streams the weights once at memory speed on every core, where libtorch's matrix-vector path reads them
/// at well under the machine's bandwidth. Dense float32 products go there up to 64 rows (register tiles,
/// one summation order for every row count) and past that on AVX-512 too (a GEMM on weight panels packed
/// on the fly); dense bfloat16 ones only for a few rows (AVX512_BF16 dot products from 3 rows where the CPU
/// has them), since libtorch's bfloat16 GEMM is faster than that kernel once arithmetic dominates. Quantized
/// weights go to the native quantized kernels at every row count (activations quantized to Q8_0 on the fly,
/// integer dot products), packed ones where <see cref="QuantizedLinearPart"/> packed them.
/// </summary>
public static class Linear
{
    public const int NativeMaxRowsFloat32 = 64;
    public const int NativeMaxRowsBFloat16 = 8;

    public static Tensor Apply(Tensor x, LinearWeight weight, Tensor? bias = null)
    {
        if (weight.Packed is { } packed) return Apply(x, packed, bias);
        if (weight.QuantizedParts is not { } parts)
        {
            if (!weight.HalfInputs) return Apply(x, weight.Dense!, bias);
            using var rounded = x.to(ScalarType.Float16).to(x.dtype);
            return Apply(rounded, weight.Dense!, bias);
        }
        using var timed = ForwardProfile.Time(ProfileSection.Linear);
        // The quantized kernels run on the CPU: a prompt chunk's products (and a decode step's LM head at 32-64 rows,
        // 4-8 MB) in recycled memory, as the packed GEMM's.
        var output = RecycledTensors.Empty(x.size(0), weight.OutFeatures, x.dtype);
        using var input = x.contiguous();
        long column = 0;
        foreach (var part in parts)
        {
            part.Apply(output, input, column);
            column += part.Rows;
        }
        if (bias is not null) output.add_(bias);
        return output;
    }

    /// <summary>Whether <see cref="TryAddTo"/> lets a packed quantized product add itself into the residual
    /// (<c>LLM_FUSED_RESIDUAL=0</c>: a product of its own and an add, to compare on one build).</summary>
    public static bool FusedResidual { get; set; } = Environment.GetEnvironmentVariable("LLM_FUSED_RESIDUAL") != "0";

    /// <summary>residual += x · Wᵀ, with the bits of <c>residual.add_(Apply(x, weight))</c>, where the product can add
    /// itself into residual as it stores it (a packed quantized weight of one part, no bias): no output tensor
    /// and no separate add (a decode layer's o and down projections). False, and residual untouched, elsewhere.</summary>
    public static bool TryAddTo(Tensor residual, Tensor x, LinearWeight weight, Tensor? bias = null)
    {
        if (!FusedResidual || bias is not null || weight.QuantizedParts is not [{ IsPacked: true } part] || residual.dim() != 2 || x.dim() != 2
            || residual.dtype != x.dtype || residual.size(0) != x.size(0) || !residual.is_contiguous())
            return false;
        using var timed = ForwardProfile.Time(ProfileSection.Linear);
        using var input = x.contiguous();
        part.AddTo(residual, input);
        return true;
    }

    /// <summary>x · Wᵀ + b on a packed weight, any row count; x of any shape [..., k] (converted to the
    /// weight's dtype), the output [..., n] in the weight's dtype.</summary>
    public static Tensor Apply(Tensor x, PackedDenseWeight weight, Tensor? bias = null)
    {
        if (x.dim() != 2 || x.dtype != weight.DType || !x.is_contiguous())
        {
            using var scope = NewDisposeScope();
            using var flat = x.reshape(-1, weight.RowLength).to(weight.DType).contiguous();
            return Apply(flat, weight, bias).view([.. x.shape[..^1], weight.Rows]).MoveToOuterDisposeScope();
        }
        using var timed = ForwardProfile.Time(ProfileSection.Linear);
        long rows = x.size(0);
        if (x.size(1) != weight.RowLength || x.device_type != DeviceType.CPU)
            throw new ArgumentException($"Linear: x [{string.Join(", ", x.shape)}] does not fit the packed weight [{weight.Rows}, {weight.RowLength}] on the CPU");
        var output = RecycledTensors.Empty(rows, weight.Rows, weight.DType);
        weight.Run(output, x, rows);
        if (bias is not null) output.add_(bias);
        return output;
    }

    public static Tensor Apply(Tensor x, Tensor weight, Tensor? bias = null)
    {
        using var timed = ForwardProfile.Time(ProfileSection.Linear);
        if (!UsesNative(x, weight)) return F.linear(x, weight, bias);
        var output = empty(new[] { x.size(0), weight.size(0) }, dtype: x.dtype, device: x.device);
        NativeKernels.SmallLinear(output, x.contiguous(), weight);
        if (bias is not null) output.add_(bias);
        return output;
    }

    private static bool UsesNative(Tensor x, Tensor weight) =>
        x.dim() == 2 && x.size(0) >= 1 && x.size(1) % 16 == 0
        && x.size(0) <= (x.dtype == ScalarType.BFloat16 ? NativeMaxRowsBFloat16 : NativeKernels.HasFloat32Gemm ? long.MaxValue : NativeMaxRowsFloat32)
        && x.dtype == weight.dtype && (x.dtype == ScalarType.Float32 || x.dtype == ScalarType.BFloat16)
        && x.device_type == DeviceType.CPU && weight.is_contiguous() && NativeKernels.IsAvailable;
}
