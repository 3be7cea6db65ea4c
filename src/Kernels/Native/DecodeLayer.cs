using System.Runtime.InteropServices;
using LlmEngine.Kernels.Attention;
using LlmEngine.Kernels.Models.Layers;
using LlmEngine.Kernels.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace LlmEngine.Kernels.Native;

/// <summary>
/// A LLaMA decoder layer of a decode step in one native call (kernels/decode_layer.h): the norms, the four packed
/// products, rotary, the KV write and paged attention, SiLU and the residual adds, the same kernels in the same order
/// as the layer's calls one by one, so the same bits. At one sequence those calls cost more around them than inside
/// them: an output tensor, views, checks and a dispose scope each, some 20 per layer, on C# and TorchSharp code and
/// objects that the step's weight stream keeps pushing out of the caches. Taken where every weight is packed (packed
/// quantized parts, or packed dense weights), there are no biases, the attention runs as direct calls on CPU caches
/// and the rows are few (<see cref="MaxRows"/>); <c>LLM_DECODE_LAYER=0</c> keeps the calls one by one, to compare on
/// one build.
/// </summary>
public sealed unsafe class DecodeLayer
{
    /// <summary>Rows past this go through the layer's calls one by one (their scratch would grow with the rows, and
    /// the calls' own cost no longer matters).</summary>
    public const int MaxRows = 64;

    /// <summary>Process-wide switch (as <see cref="FusedOps.Enabled"/>); starts false when LLM_DECODE_LAYER=0.</summary>
    public static bool Enabled { get; set; } = Environment.GetEnvironmentVariable("LLM_DECODE_LAYER") != "0";

    private static delegate* unmanaged<Args*, int> _run;
    private static long _runs;

    /// <summary>Layers run through the fused call so far, process-wide (tests check that it ran).</summary>
    public static long Runs => Interlocked.Read(ref _runs);

    private readonly ScalarType _dtype;
    private readonly Tensor _inputNorm, _postNorm;
    private readonly LinearWeight[] _keepAlive;
    private readonly Weight _qkv, _o, _gateUp, _down;
    private readonly bool _oOnePart, _downOnePart;
    private readonly long _width, _queryHeads, _kvHeads, _headSize, _ffn;
    private readonly double _epsilon;

    private DecodeLayer(ScalarType dtype, Tensor inputNorm, Tensor postNorm, double epsilon, LinearWeight[] weights, Weight[] described,
        long width, long queryHeads, long kvHeads, long headSize, long ffn)
    {
        (_dtype, _inputNorm, _postNorm, _epsilon, _keepAlive) = (dtype, inputNorm, postNorm, epsilon, weights);
        (_qkv, _o, _gateUp, _down) = (described[0], described[1], described[2], described[3]);
        _oOnePart = described[1].Dense == 0 && described[1].Count == 1;
        _downOnePart = described[3].Dense == 0 && described[3].Count == 1;
        (_width, _queryHeads, _kvHeads, _headSize, _ffn) = (width, queryHeads, kvHeads, headSize, ffn);
    }

    /// <summary>The fused call for a layer of these weights (qkv, o, gate/up, down, without biases), or null where
    /// it cannot run: a weight not packed, gains not of <paramref name="dtype"/>, no native library.</summary>
    public static DecodeLayer? For(ScalarType dtype, Tensor inputNorm, Tensor postNorm, double epsilon, LinearWeight qkv, LinearWeight output,
        LinearWeight gateUp, LinearWeight down, long width, long queryHeads, long kvHeads, long headSize, long ffn)
    {
        if (!NativeKernels.IsAvailable || dtype is not (ScalarType.Float32 or ScalarType.BFloat16)
            || inputNorm.dtype != dtype || postNorm.dtype != dtype || !inputNorm.is_contiguous() || !postNorm.is_contiguous())
            return null;
        LinearWeight[] weights = [qkv, output, gateUp, down];
        var described = new Weight[4];
        for (int i = 0; i < 4; i++)
            if (Describe(weights[i], dtype) is { } w) described[i] = w;
            else return null;
        if (_run is null) _run = (delegate* unmanaged<Args*, int>)NativeKernels.Export("llm_decode_layer");
        return new DecodeLayer(dtype, inputNorm, postNorm, epsilon, weights, described, width, queryHeads, kvHeads, headSize, ffn);
    }

    private static Weight? Describe(LinearWeight weight, ScalarType dtype)
    {
        var w = new Weight();
        if (weight.Packed is { } dense)
        {
            if (dense.DType != dtype) return null;
            w.Parts[0] = (long)dense.DangerousGetHandle();
            (w.Count, w.Dense) = (1, 1);
            return w;
        }
        if (weight.QuantizedParts is not { Count: >= 1 and <= 4 } parts || parts.Any(p => p.PackedHandle == IntPtr.Zero)) return null;
        for (int i = 0; i < parts.Count; i++) w.Parts[i] = (long)parts[i].PackedHandle;
        w.Count = parts.Count;
        return w;
    }

    /// <summary>Runs the layer on the residual stream <paramref name="x"/> [tokens, hidden] in place when it can (see the
    /// class); false, and nothing done, otherwise.</summary>
    /// <param name="cos">rotary's tables for the rows, [tokens, 1, half] float32 (<see cref="RotaryEmbedding.For(Tensor, AttentionBatch)"/>)</param>
    public bool TryForward(int layer, Tensor x, Tensor cos, Tensor sin, int rotaryHalf, bool interleaved, AttentionBatch batch,
        IAttentionBackend attention, AttentionScores scores)
    {
        if (!Enabled || attention is not NativePagedAttention { Direct: true } paged || !FusedOps.Takes(x) || x.dtype != _dtype
            || x.size(1) != _width || x.size(0) > MaxRows || x.size(0) != batch.NumTokens || batch.NumSequences == 0
            || 2 * rotaryHalf > _headSize || cos.dtype != ScalarType.Float32 || sin.dtype != ScalarType.Float32
            || !cos.is_contiguous() || !sin.is_contiguous() || cos.numel() != x.size(0) * rotaryHalf || sin.numel() != x.size(0) * rotaryHalf)
            return false;
        var keyCache = paged.Cache.Keys[layer];
        var valueCache = paged.Cache.Values[layer];
        var (tables, width) = batch.FlatBlockTables();
        var cache = stackalloc NativeKernels.RawTensor[6];
        long* nanoseconds = stackalloc long[4];
        int rc;
        fixed (int* blockTables = tables, contexts = batch.ContextLengths, starts = batch.QueryStarts)
        fixed (long* slots = batch.SlotMapping)
        {
            cache[0] = NativeKernels.RawTensor.Of(keyCache);
            cache[1] = NativeKernels.RawTensor.Of(valueCache);
            cache[2] = NativeKernels.RawTensor.Of(blockTables, NativeKernels.RawTensor.Int32, batch.NumSequences, width);
            cache[3] = NativeKernels.RawTensor.Of(contexts, NativeKernels.RawTensor.Int32, batch.NumSequences);
            cache[4] = NativeKernels.RawTensor.Of(starts, NativeKernels.RawTensor.Int32, batch.NumSequences + 1);
            cache[5] = NativeKernels.RawTensor.Of(slots, NativeKernels.RawTensor.Int64, batch.SlotMapping.Length);
            var args = new Args
            {
                X = TensorMemory.DataPointer(x), Rows = x.size(0), Width = _width, BFloat16 = _dtype == ScalarType.BFloat16 ? 1 : 0,
                Interleaved = interleaved ? 1 : 0, InputNorm = TensorMemory.DataPointer(_inputNorm), PostNorm = TensorMemory.DataPointer(_postNorm),
                Epsilon = _epsilon, Qkv = _qkv, O = _o, GateUp = _gateUp, Down = _down, OAdds = Adds(_oOnePart), DownAdds = Adds(_downOnePart),
                QueryHeads = _queryHeads, KvHeads = _kvHeads, HeadSize = _headSize, RotaryHalf = rotaryHalf, Ffn = _ffn,
                Cos = TensorMemory.DataPointer(cos), Sin = TensorMemory.DataPointer(sin), Cache = cache,
                Scale = scores.Scale, SoftCap = scores.SoftCap, MaxContextLength = batch.MaxContextLength, PartitionSize = paged.PartitionSize,
                Window = scores.Window, Nanoseconds = ForwardProfile.Enabled ? nanoseconds : null,
            };
            for (int i = 0; i < 4; i++) nanoseconds[i] = 0;
            rc = _run(&args);
        }
        GC.KeepAlive(x);
        GC.KeepAlive(cos);
        GC.KeepAlive(sin);
        GC.KeepAlive(keyCache);
        GC.KeepAlive(valueCache);
        GC.KeepAlive(_keepAlive);
        if (rc != 0) throw new ArgumentException($"llm_decode_layer: {NativeKernels.TakeLastError()}");
        Interlocked.Increment(ref _runs);
        if (ForwardProfile.Enabled)
        {
            ForwardProfile.Add(ProfileSection.Linear, nanoseconds[0]);
            ForwardProfile.Add(ProfileSection.Attention, nanoseconds[1]);
            ForwardProfile.Add(ProfileSection.Norm, nanoseconds[2]);
            ForwardProfile.Add(ProfileSection.Rotary, nanoseconds[3]);
        }
        return true;
    }

    // As Linear.TryAddTo: a packed quantized weight of one part adds itself into the residual stream.
    private static int Adds(bool onePackedPart) => Linear.FusedResidual && onePackedPart ? 1 : 0;

    // kernels/decode_layer.h's DecodeWeight and DecodeLayerArgs, field for field.
    [StructLayout(LayoutKind.Sequential)]
    private struct Weight
    {
        public fixed long Parts[4];
        public int Count;
        public int Dense;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct Args
    {
        public IntPtr X;
        public long Rows, Width;
        public int BFloat16, Interleaved;
        public IntPtr InputNorm, PostNorm;
        public double Epsilon;
        public Weight Qkv, O, GateUp, Down;
        public int OAdds, DownAdds;
        public long QueryHeads, KvHeads, HeadSize, RotaryHalf, Ffn;
        public IntPtr Cos, Sin;
        public NativeKernels.RawTensor* Cache;
        public double Scale, SoftCap;
        public long MaxContextLength, PartitionSize, Window;
        public long* Nanoseconds;
    }
}
