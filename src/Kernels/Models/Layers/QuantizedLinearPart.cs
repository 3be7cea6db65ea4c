using LlmEngine.Kernels.Native;
using LlmEngine.Kernels.Quantization;
using static TorchSharp.torch;

namespace LlmEngine.Kernels.Models.Layers;

/// <summary>
/// One part (a run of rows) of a quantized linear weight, as the native kernels read it: repacked
/// once for the AVX-512 VNNI kernels where the CPU and the block type allow (the blocks are then
/// released: the packed copy holds the same bytes), else ggml's blocks as stored.
/// </summary>
public sealed class QuantizedLinearPart : IDisposable
{
    private readonly QuantizedTensor? _blocks;
    private readonly PackedQuantizedWeight? _packed;

    /// <summary>Takes ownership of <paramref name="blocks"/>.</summary>
    public QuantizedLinearPart(QuantizedTensor blocks)
    {
        (Type, Rows, RowLength) = (blocks.Type, blocks.Rows, blocks.RowLength);
        try { _packed = PackedQuantizedWeight.TryPack(blocks); }
        catch
        {
            blocks.Dispose();
            throw;
        }
        if (_packed is null) _blocks = blocks;
        else blocks.Dispose();
    }

    public GgmlType Type { get; }
    public long Rows { get; }
    public long RowLength { get; }
    public bool IsPacked => _packed is not null;

    /// <summary>The packed weight's native handle (kernels/packed_linear.h's PackedWeight), or zero where the part is not
    /// packed; valid while this part lives (the fused decode layer, <see cref="Native.DecodeLayer"/>).</summary>
    internal IntPtr PackedHandle => _packed?.DangerousGetHandle() ?? IntPtr.Zero;

    /// <summary>output[:, column..column + Rows] = x · partᵀ.</summary>
    public void Apply(Tensor output, Tensor x, long column)
    {
        if (_packed is not null) NativeKernels.QuantizedLinear(output, x, _packed, column);
        else NativeKernels.QuantizedLinear(output, x, _blocks!, column);
    }

    /// <summary>output += x · partᵀ (the part's rows are all of output's columns), as <c>output.add_(x · partᵀ)</c>
    /// rounds; packed parts only (<see cref="IsPacked"/>).</summary>
    public void AddTo(Tensor output, Tensor x) =>
        NativeKernels.QuantizedLinear(output, x, _packed ?? throw new InvalidOperationException("only a packed part adds into its output"), 0, accumulate: true);

    public void Dispose()
    {
        _packed?.Dispose();
        _blocks?.Dispose();
    }
}
