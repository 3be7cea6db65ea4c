using TorchSharp;
using static TorchSharp.torch;

namespace LlmEngine.Kernels.Native;

/// <summary>
/// The element-wise work between the matrix products in one native call each
/// (kernels/decode_ops.cpp): RMSNorm with the residual add before it, SiLU-and-multiply, rotary
/// embeddings in place. At a few rows libtorch spends more on dispatching and allocating its chain
/// of small operators (eight for an RMSNorm, a dozen for rotary) than on the arithmetic, and on a
/// prompt chunk its threaded chain was no faster (a 128-token float32 prompt spent 11-15 ms in
/// norms and 11-17 ms in rotary through libtorch on an idle machine), so every row count goes here;
/// the calls spread their rows over the kernels' pool past 32K elements. Taken for contiguous
/// float32 or bfloat16 CPU rows; bfloat16 results are rounded where libtorch's chain rounds them.
/// A prompt chunk's outputs (4-11 MB at 1,365 rows of llama-110m) are <see cref="RecycledTensors"/>: in
/// new memory each first write of a page faulted, and the norms section of a Q4_0 prompt step was 50-60 ms.
/// </summary>
public static unsafe class FusedOps
{
    private static delegate* unmanaged<IntPtr, IntPtr, IntPtr, IntPtr, int, long, long, double, int, int> _rmsNorm;
    private static delegate* unmanaged<IntPtr, IntPtr, int, long, long, int> _siluMul;
    private static delegate* unmanaged<IntPtr, int, long, long, long, long, long, IntPtr, IntPtr, int, int> _rotary;
    private static volatile bool _bound;

    /// <summary>False: libtorch's chains everywhere, to compare the two on one build (process-wide, as
    /// <see cref="NativeKernels.SelectIsa"/>; <c>bench fused</c> alternates it). Starts false when the
    /// environment sets LLM_FUSED_OPS=0.</summary>
    public static bool Enabled { get; set; } = Environment.GetEnvironmentVariable("LLM_FUSED_OPS") != "0";

    /// <summary>Whether <paramref name="x"/> [rows, width] can go through the fused calls.</summary>
    public static bool Takes(Tensor x) =>
        Enabled && x.dim() == 2 && x.dtype is ScalarType.Float32 or ScalarType.BFloat16
        && x.device_type == DeviceType.CPU && x.is_contiguous() && NativeKernels.IsAvailable;

    /// <summary>x += residual (in place) when given, then rmsnorm(x) · weight (unitOffset: · (1 + weight), Gemma's).</summary>
    public static Tensor RmsNorm(Tensor x, Tensor? residual, Tensor weight, double epsilon, bool unitOffset)
    {
        Bind();
        long rows = x.size(0), width = x.size(1);
        if (weight.dtype != x.dtype || weight.numel() != width || !weight.is_contiguous()
            || residual is not null && (residual.dtype != x.dtype || !residual.is_contiguous() || residual.numel() != x.numel()))
            throw new ArgumentException($"rms_norm: x [{rows}, {width}] {x.dtype}, weight {weight.dtype} [{weight.numel()}] and residual do not fit");
        var output = RecycledTensors.Empty(rows, width, x.dtype);
        int rc = _rmsNorm(TensorMemory.DataPointer(output), TensorMemory.DataPointer(x), residual is null ? IntPtr.Zero : TensorMemory.DataPointer(residual),
            TensorMemory.DataPointer(weight), IsBf16(x), rows, width, epsilon, unitOffset ? 1 : 0);
        GC.KeepAlive(x);
        GC.KeepAlive(residual);
        GC.KeepAlive(weight);
        return Checked(rc, "rms_norm", output);
    }

    /// <summary>silu(gate) · up for gateUp [rows, 2h] whose columns are [gate | up]: [rows, h].</summary>
    public static Tensor SiluMul(Tensor gateUp)
    {
        Bind();
        long rows = gateUp.size(0), h = gateUp.size(1) / 2;
        if (gateUp.size(1) % 2 != 0) throw new ArgumentException($"silu_mul: {gateUp.size(1)} columns are not [gate | up]");
        var output = RecycledTensors.Empty(rows, h, gateUp.dtype);
        int rc = _siluMul(TensorMemory.DataPointer(output), TensorMemory.DataPointer(gateUp), IsBf16(gateUp), rows, h);
        GC.KeepAlive(gateUp);
        return Checked(rc, "silu_mul", output);
    }

    /// <summary>Rotates in place the first <paramref name="heads"/> heads of each row of <paramref name="rows"/>
    /// [tokens, width ≥ heads · headSize]: their first 2 · half dimensions, by cos and sin [tokens, ·, half] (float32, contiguous).</summary>
    public static void Rotary(Tensor rows, int heads, int headSize, int half, Tensor cos, Tensor sin, bool interleaved)
    {
        Bind();
        long tokens = rows.size(0);
        if (cos.dtype != ScalarType.Float32 || sin.dtype != ScalarType.Float32 || !cos.is_contiguous() || !sin.is_contiguous()
            || cos.numel() != tokens * half || sin.numel() != tokens * half)
            throw new ArgumentException($"rotary: cos and sin must be contiguous float32 [{tokens}, {half}]");
        int rc = _rotary(TensorMemory.DataPointer(rows), IsBf16(rows), tokens, rows.size(1), heads, headSize, half,
            TensorMemory.DataPointer(cos), TensorMemory.DataPointer(sin), interleaved ? 1 : 0);
        GC.KeepAlive(rows);
        GC.KeepAlive(cos);
        GC.KeepAlive(sin);
        if (rc != 0) throw new ArgumentException($"llm_rotary: {NativeKernels.TakeLastError()}");
    }

    private static int IsBf16(Tensor x) => x.dtype == ScalarType.BFloat16 ? 1 : 0;

    private static Tensor Checked(int rc, string name, Tensor output)
    {
        if (rc == 0) return output;
        output.Dispose();
        throw new ArgumentException($"llm_{name}: {NativeKernels.TakeLastError()}");
    }

    private static void Bind()
    {
        if (_bound) return;
        NativeKernels.EnsureAvailable();
        _rmsNorm = (delegate* unmanaged<IntPtr, IntPtr, IntPtr, IntPtr, int, long, long, double, int, int>)NativeKernels.Export("llm_rms_norm");
        _siluMul = (delegate* unmanaged<IntPtr, IntPtr, int, long, long, int>)NativeKernels.Export("llm_silu_mul");
        _rotary = (delegate* unmanaged<IntPtr, int, long, long, long, long, long, IntPtr, IntPtr, int, int>)NativeKernels.Export("llm_rotary");
        _bound = true;
    }
}
