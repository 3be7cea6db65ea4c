using System.Runtime.InteropServices;
using LlmEngine.Kernels.Attention;
using LlmEngine.Kernels.Quantization;
using TorchSharp;
using static TorchSharp.torch;

namespace LlmEngine.Kernels.Native;

/// <summary>
/// The native kernels (src/Kernels/Native): paged attention and KV-cache operations registered
/// in libtorch's dispatcher as <c>llm::paged_attention</c>, <c>llm::write_kv</c>,
/// <c>llm::copy_blocks</c> and <c>llm::swap_blocks</c>. Calls go through
/// <c>aoti_torch_call_dispatcher</c> (libtorch's stable C ABI) with handles of the TorchSharp
/// tensors, so the kernels work on the tensors' memory in place, and the same name reaches the
/// CUDA kernels for CUDA tensors where <c>libllm_kernels_cuda.so</c> was built and loads.
/// </summary>
public static unsafe class NativeKernels
{
    public const string LibraryFile = "libllm_kernels.so";
    public const string CudaLibraryFile = "libllm_kernels_cuda.so";

    private static readonly object Gate = new();
    private static volatile bool _loaded;
    private static string? _error;
    private static bool _cuda;
    private static IntPtr _library;
    private static delegate* unmanaged<byte*, byte*, ulong*, int> _callDispatcher;
    private static delegate* unmanaged<IntPtr, IntPtr*, int> _newTensorHandle;
    private static delegate* unmanaged<IntPtr, int> _deleteTensorHandle;
    private static delegate* unmanaged<IntPtr> _lastError;
    private static delegate* unmanaged<void> _clearError;
    private static delegate* unmanaged<IntPtr, long, IntPtr, int, long, long, IntPtr, int, long, int> _quantizedLinear;
    private static delegate* unmanaged<IntPtr, long, IntPtr, int, long, long, IntPtr, int, int> _packedLinear;
    private static delegate* unmanaged<IntPtr, IntPtr, IntPtr, int, long, long, long, int> _smallLinear;
    private static delegate* unmanaged<RawTensor*, int, double, long, long, long, double, int> _pagedAttentionDirect;
    private static delegate* unmanaged<int> _bf16Dot;
    private static delegate* unmanaged<int> _f32Gemm;
    private static delegate* unmanaged<long> _threadCpu, _poolCpu;

    /// <summary>Whether the library loaded and registered its operators (CPU kernels).</summary>
    public static bool IsAvailable => Load() is null;

    /// <summary>Why the native kernels cannot be used, or null when they can.</summary>
    public static string? UnavailableReason => Load();

    /// <summary>Whether the CUDA kernels are registered too.</summary>
    public static bool IsCudaAvailable => Load() is null && _cuda;

    /// <summary>The instruction set the CPU kernels use now: "avx512", "avx2" or "scalar" ("none" when unavailable).</summary>
    public static string Isa => IsAvailable ? Text("llm_native_isa") : "none";

    /// <summary>The best instruction set this CPU supports.</summary>
    public static string DetectedIsa => IsAvailable ? Text("llm_native_detected_isa") : "none";

    /// <summary>Threads of the kernels' pool (the calling thread included).</summary>
    public static int Threads => IsAvailable ? ((delegate* unmanaged<int>)Export("llm_native_threads"))() : 0;

    /// <summary>CPU time the calling thread has used, and its kernel pool's workers (the callers not included), in
    /// nanoseconds; (0, 0) without the native kernels. <c>bench batch --profile</c> splits a forward pass's work by them.</summary>
    public static (long Thread, long PoolWorkers) CpuNanoseconds => IsAvailable ? (_threadCpu(), _poolCpu()) : (0, 0);

    /// <summary>How many KiB of the weights that the next decode products read (learned from the order of the
    /// calling thread's products) the pool's idle workers prefetch between products, each its own share
    /// (kernels/read_ahead.h; <c>LLM_READ_AHEAD_KB</c> until set; 0: off). Only the caches change: never a bit.</summary>
    public static long ReadAheadKilobytes
    {
        get => IsAvailable ? ((delegate* unmanaged<long>)Export("llm_read_ahead_kb"))() : 0;
        set
        {
            EnsureAvailable();
            ((delegate* unmanaged<long, void>)Export("llm_set_read_ahead_kb"))(value);
        }
    }

    /// <summary>Whether <see cref="SmallLinear"/> computes bfloat16 products of 3 or more rows whose inner
    /// size is a multiple of 32 with AVX512_BF16 dot products (CPU support, kernels at AVX-512,
    /// <c>LLM_BF16_DOT</c> not 0), reading x and the weight as they are; otherwise it widens them to float32.</summary>
    public static bool HasBFloat16Dot => IsAvailable && _bf16Dot() != 0;

    /// <summary>Whether <see cref="SmallLinear"/> takes float32 x of any row count (past 64 rows, a GEMM on
    /// weight panels packed on the fly: kernels at AVX-512, <c>LLM_F32_GEMM</c> not 0); otherwise at most 64 rows.</summary>
    public static bool HasFloat32Gemm => IsAvailable && _f32Gemm() != 0;

    /// <summary>Whether packed Q8_0 / Q4_0 products of many rows run on AMX-INT8 tiles (kernels/packed_gemm_amx.cpp;
    /// the AVX-512 kernel's bits): true where the CPU and OS allow it and <c>LLM_AMX</c> is not 0. Setting it
    /// false falls back to AVX-512 (process-wide, as <see cref="SelectIsa"/>), true restores it; setting true
    /// where AMX-INT8 is not available throws.</summary>
    public static bool AmxInt8
    {
        get => IsAvailable && ((delegate* unmanaged<int>)Export("llm_native_amx_int8"))() != 0;
        set
        {
            EnsureAvailable();
            if (((delegate* unmanaged<int, int>)Export("llm_native_set_amx_int8"))(value ? 1 : 0) != 0)
                throw new InvalidOperationException("AMX-INT8 is not available on this CPU or OS (or LLM_AMX=0)");
        }
    }

    /// <summary>One line for startup logs.</summary>
    public static string Description => IsAvailable
        ? $"native kernels: {Isa}{(HasBFloat16Dot ? " + bf16 dot products" : "")}{(HasFloat32Gemm ? " + f32 gemm" : "")}{(AmxInt8 ? " + amx-int8" : "")}{(PackedDenseWeight.AmxEnabled ? " + amx-bf16" : "")} (cpu supports {DetectedIsa}), {Threads} threads{(IsCudaAvailable ? ", cuda" : "")}"
        : $"native kernels unavailable: {UnavailableReason}";

    /// <summary>Whether tensors on <paramref name="device"/> can use the native operators.</summary>
    public static bool Supports(Device device) => device.type switch
    {
        DeviceType.CPU => IsAvailable,
        DeviceType.CUDA => IsCudaAvailable,
        _ => false,
    };

    /// <summary>
    /// Lowers (or restores) the instruction set of the CPU kernels, e.g. to compare "avx2" with
    /// "avx512" on one machine. Returns false when the CPU lacks it. Process-wide.
    /// </summary>
    public static bool SelectIsa(string isa)
    {
        EnsureAvailable();
        var bytes = System.Text.Encoding.UTF8.GetBytes(isa + "\0");
        fixed (byte* p = bytes) return ((delegate* unmanaged<byte*, int>)Export("llm_native_select_isa"))(p) == 0;
    }

    /// <summary>
    /// Gives the calling thread a kernel pool of its own with <paramref name="threads"/> threads (itself
    /// included), as a tensor-parallel rank thread needs to compute on its share of the cores; 0 hands
    /// it back, and the thread uses the process-wide pool again.
    /// </summary>
    public static void BindThreads(int threads)
    {
        EnsureAvailable();
        ((delegate* unmanaged<int, void>)Export("llm_native_bind_threads"))(threads);
    }

    public static void EnsureAvailable()
    {
        if (Load() is { } reason) throw new InvalidOperationException($"native kernels unavailable: {reason}");
    }

    /// <summary>
    /// Paged attention over a flattened batch, written into <paramref name="output"/>.
    /// Query token j of sequence s sits at position contextLengths[s] - queryLength(s) + j and
    /// attends causally to its sequence's cached keys and values, read through the block table.
    /// </summary>
    /// <param name="output">[tokens, queryHeads, headSize], float32 or bfloat16, any strides</param>
    /// <param name="query">[tokens, queryHeads, headSize], float32 or bfloat16, any strides</param>
    /// <param name="keyCache">[blocks, blockSize, kvHeads, headSize], float32 or bfloat16</param>
    /// <param name="valueCache">like keyCache</param>
    /// <param name="blockTables">[sequences, maxBlocks] int32</param>
    /// <param name="contextLengths">[sequences] int32</param>
    /// <param name="queryStarts">[sequences + 1] int32</param>
    /// <param name="scores">scale, soft cap and sliding window of the scores</param>
    /// <param name="partitionSize">key positions per work item before a context is split; 0 chooses</param>
    public static void PagedAttention(Tensor output, Tensor query, Tensor keyCache, Tensor valueCache, Tensor blockTables,
        Tensor contextLengths, Tensor queryStarts, AttentionScores scores, int maxContextLength, int partitionSize = 0)
    {
        fixed (byte* op = "llm::paged_attention\0"u8)
            Call(op, [output, query, keyCache, valueCache, blockTables, contextLengths, queryStarts],
                [BitConverter.DoubleToUInt64Bits(scores.Scale), (ulong)(long)maxContextLength, (ulong)(long)partitionSize,
                 (ulong)(long)scores.Window, BitConverter.DoubleToUInt64Bits(scores.SoftCap)]);
    }

    /// <summary>Whether <see cref="NativePagedAttention"/> calls <see cref="PagedAttentionDirect"/> on CPU caches
    /// (<c>LLM_ATTENTION_DIRECT=0</c>: the two dispatcher calls, to compare on one build).</summary>
    internal static bool DirectAttention { get; } = Environment.GetEnvironmentVariable("LLM_ATTENTION_DIRECT") != "0";

    /// <summary>
    /// <see cref="WriteKv"/> (when <paramref name="key"/> and <paramref name="value"/> are given) and then
    /// <see cref="PagedAttention"/> on CPU tensors in one plain call (<c>llm_paged_attention_direct</c>): the same
    /// kernels and checks, with the batch's arrays read where they lie (no metadata tensors) and no dispatcher,
    /// whose boxing and autograd fallback cost a decode step at one sequence a visible part of its attention.
    /// </summary>
    public static void PagedAttentionDirect(Tensor output, Tensor query, Tensor keyCache, Tensor valueCache, AttentionBatch batch,
        AttentionScores scores, int partitionSize = 0, Tensor? key = null, Tensor? value = null)
    {
        EnsureAvailable();
        if ((key is null) != (value is null)) throw new ArgumentException("llm_paged_attention_direct: key and value go together");
        if (batch.NumTokens == 0) return;
        foreach (var t in (ReadOnlySpan<Tensor?>)[output, query, keyCache, valueCache, key, value])
            if (t is not null && (t.device_type != DeviceType.CPU || t.dim() > 4))
                throw new ArgumentException("llm_paged_attention_direct: CPU tensors of at most 4 dimensions expected");
        var heads = stackalloc RawTensor[3];
        heads[0] = RawTensor.Of(query);
        if (key is not null && value is not null)
        {
            heads[1] = RawTensor.Of(key);
            heads[2] = RawTensor.Of(value);
        }
        PagedAttentionDirect(output, heads, key is not null, keyCache, valueCache, batch, scores, partitionSize);
        GC.KeepAlive(query);
        GC.KeepAlive(key);
        GC.KeepAlive(value);
    }

    /// <summary><see cref="PagedAttentionDirect(Tensor, Tensor, Tensor, Tensor, AttentionBatch, AttentionScores, int, Tensor?, Tensor?)"/>
    /// with the step's query, key and value the heads of a fused projection, read where they lie: <paramref name="qkv"/>
    /// [tokens, (queryHeads + 2 kvHeads) · headSize] on the CPU, each row q, k and v side by side, columns contiguous.</summary>
    public static void PagedAttentionDirect(Tensor output, Tensor qkv, int queryHeads, int kvHeads, int headSize, Tensor keyCache, Tensor valueCache,
        AttentionBatch batch, AttentionScores scores, int partitionSize = 0)
    {
        EnsureAvailable();
        if (batch.NumTokens == 0) return;
        if (qkv.device_type != DeviceType.CPU || output.device_type != DeviceType.CPU || output.dim() > 4 || qkv.dim() != 2 || qkv.stride(1) != 1
            || qkv.size(1) < (queryHeads + 2L * kvHeads) * headSize)
            throw new ArgumentException($"llm_paged_attention_direct: qkv [{qkv.size(0)}, {qkv.size(1)}] is not a CPU projection of {queryHeads} + 2 x {kvHeads} heads of {headSize} with contiguous columns");
        var heads = stackalloc RawTensor[3];
        heads[0] = RawTensor.Heads(qkv, 0, queryHeads, headSize);
        heads[1] = RawTensor.Heads(qkv, queryHeads, kvHeads, headSize);
        heads[2] = RawTensor.Heads(qkv, queryHeads + kvHeads, kvHeads, headSize);
        PagedAttentionDirect(output, heads, true, keyCache, valueCache, batch, scores, partitionSize);
        GC.KeepAlive(qkv);
    }

    // heads: query, key and value (the latter two when write), the callers keep their tensors alive.
    private static void PagedAttentionDirect(Tensor output, RawTensor* heads, bool write, Tensor keyCache, Tensor valueCache, AttentionBatch batch,
        AttentionScores scores, int partitionSize)
    {
        var (tables, width) = batch.FlatBlockTables();
        RawTensor* raw = stackalloc RawTensor[10];
        int rc;
        fixed (int* blockTables = tables, contexts = batch.ContextLengths, starts = batch.QueryStarts)
        fixed (long* slots = batch.SlotMapping)
        {
            raw[0] = RawTensor.Of(output);
            raw[1] = heads[0];
            raw[2] = RawTensor.Of(keyCache);
            raw[3] = RawTensor.Of(valueCache);
            raw[4] = RawTensor.Of(blockTables, RawTensor.Int32, batch.NumSequences, width);
            raw[5] = RawTensor.Of(contexts, RawTensor.Int32, batch.NumSequences);
            raw[6] = RawTensor.Of(starts, RawTensor.Int32, batch.NumSequences + 1);
            if (write)
            {
                raw[7] = heads[1];
                raw[8] = heads[2];
                raw[9] = RawTensor.Of(slots, RawTensor.Int64, batch.SlotMapping.Length);
            }
            rc = _pagedAttentionDirect(raw, write ? 1 : 0, scores.Scale, batch.MaxContextLength, partitionSize, scores.Window, scores.SoftCap);
        }
        GC.KeepAlive(output);
        GC.KeepAlive(keyCache);
        GC.KeepAlive(valueCache);
        if (rc != 0) throw new ArgumentException($"llm_paged_attention_direct: {TakeLastError()}");
    }

    /// <summary>A tensor as <c>kernels/tensor_arg.h</c>'s RawTensor describes it to a plain export.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct RawTensor
    {
        public const int Int32 = 3, Int64 = 4, Other = 7;  // tensor_arg.h's DType numbers: F32, BF16, F16, I32, I64, F8E4M3, F8E5M2, Other

        public IntPtr Data;
        public long Dim;
        public fixed long Sizes[4];
        public fixed long Strides[4];
        public int DType;

        public static RawTensor Of(Tensor t)
        {
            var raw = new RawTensor { Data = TensorMemory.DataPointer(t), Dim = t.dim(), DType = Code(t.dtype) };
            for (int d = 0; d < raw.Dim; d++)
            {
                raw.Sizes[d] = t.size(d);
                raw.Strides[d] = t.stride(d);
            }
            return raw;
        }

        // Heads [first, first + count) of a projection [tokens, ..., heads of headSize, ...] with contiguous
        // columns, as [tokens, count, headSize]: the view qkv.narrow(1, first · headSize, count · headSize).view(...).
        public static RawTensor Heads(Tensor qkv, int first, int count, int headSize)
        {
            var raw = new RawTensor { Dim = 3, DType = Code(qkv.dtype) };
            raw.Data = TensorMemory.DataPointer(qkv) + (nint)((long)first * headSize * qkv.ElementSize);
            raw.Sizes[0] = qkv.size(0);
            raw.Sizes[1] = count;
            raw.Sizes[2] = headSize;
            raw.Strides[0] = qkv.stride(0);
            raw.Strides[1] = headSize;
            raw.Strides[2] = 1;
            return raw;
        }

        // A contiguous array of one or two dimensions.
        public static RawTensor Of(void* data, int dtype, long rows, long columns = -1)
        {
            var raw = new RawTensor { Data = (IntPtr)data, Dim = columns < 0 ? 1 : 2, DType = dtype };
            raw.Sizes[0] = rows;
            raw.Strides[0] = columns < 0 ? 1 : columns;
            if (columns >= 0)
            {
                raw.Sizes[1] = columns;
                raw.Strides[1] = 1;
            }
            return raw;
        }

        private static int Code(ScalarType type) => type switch
        {
            ScalarType.Float32 => 0,
            ScalarType.BFloat16 => 1,
            ScalarType.Float16 => 2,
            ScalarType.Int32 => Int32,
            ScalarType.Int64 => Int64,
            Cache.KvCacheDTypes.Float8E4M3 => 5,
            Cache.KvCacheDTypes.Float8E5M2 => 6,
            _ => Other,
        };
    }

    /// <summary>Stores key/value [tokens, kvHeads, headSize] at their slots (int64 [tokens]; negative = skip).</summary>
    public static void WriteKv(Tensor key, Tensor value, Tensor keyCache, Tensor valueCache, Tensor slotMapping)
    {
        fixed (byte* op = "llm::write_kv\0"u8) Call(op, [key, value, keyCache, valueCache, slotMapping], []);
    }

    /// <summary>Copies whole blocks inside one layer's caches; mapping int64 [pairs, 2] of (source, destination).</summary>
    public static void CopyBlocks(Tensor keyCache, Tensor valueCache, Tensor blockMapping)
    {
        fixed (byte* op = "llm::copy_blocks\0"u8) Call(op, [keyCache, valueCache, blockMapping], []);
    }

    /// <summary>Copies whole blocks from one cache tensor to another of the same block shape (device and host).</summary>
    public static void SwapBlocks(Tensor source, Tensor destination, Tensor blockMapping)
    {
        fixed (byte* op = "llm::swap_blocks\0"u8) Call(op, [source, destination, blockMapping], []);
    }

    /// <summary>out [M, N] = x [M, K] · weight [N, K]ᵀ for M up to 64, float32 or bfloat16, contiguous CPU
    /// tensors. A plain export on the tensors' memory: at one row the dispatcher's boxing would cost
    /// a good part of the product.</summary>
    public static void SmallLinear(Tensor output, Tensor x, Tensor weight)
    {
        EnsureAvailable();
        if (x.dim() != 2 || weight.dim() != 2 || output.dim() != 2 || weight.size(1) != x.size(1) || output.size(0) != x.size(0) || output.size(1) != weight.size(0))
            throw new ArgumentException($"llm_small_linear: x [{string.Join(", ", x.shape)}], weight [{string.Join(", ", weight.shape)}] and out [{string.Join(", ", output.shape)}] do not fit");
        if (x.dtype != weight.dtype || output.dtype != x.dtype || x.dtype is not (ScalarType.Float32 or ScalarType.BFloat16)
            || x.device_type != DeviceType.CPU || !x.is_contiguous() || !weight.is_contiguous() || !output.is_contiguous())
            throw new ArgumentException("llm_small_linear: x, weight and out must be contiguous CPU tensors, all float32 or all bfloat16");
        long m = x.size(0), k = x.size(1), n = weight.size(0);
        int rc = _smallLinear(TensorMemory.DataPointer(output), TensorMemory.DataPointer(x), TensorMemory.DataPointer(weight),
            x.dtype == ScalarType.BFloat16 ? 1 : 0, m, k, n);
        GC.KeepAlive(output);
        GC.KeepAlive(x);
        GC.KeepAlive(weight);
        if (rc != 0) throw new ArgumentException($"llm_small_linear: {TakeLastError()}");
    }

    /// <summary>A sparse mixture of experts' feed-forward in one call (kernels/moe_experts.h): out [T, d] =
    /// Σ_j weights[t, j] · expert_routes[t, j](x[t]), expert_e(x) = down[e] · (act(gate · x) * (up · x)) with
    /// gate_up[e] = [gate | up] by rows. x, out [T, d], gateUp [E, 2I, d], down [E, d, I] all float32 or all
    /// bfloat16, contiguous; routes int64 and weights float32 [T, k].</summary>
    public static void MoeExperts(Tensor output, Tensor x, Tensor routes, Tensor weights, Tensor gateUp, Tensor down, int activation)
    {
        fixed (byte* op = "llm::moe_experts\0"u8) Call(op, [output, x, routes, weights, gateUp, down], [(ulong)(long)activation]);
    }

    /// <summary>The ggml block types <see cref="QuantizedLinear"/> takes.</summary>
    public static bool QuantizedLinearSupports(GgmlType type) => type is GgmlType.Q8_0 or GgmlType.Q4_0 or GgmlType.Q4_K or GgmlType.Q5_K or GgmlType.Q6_K;

    /// <summary>out[:, column..column + N] = x [M, K] · weightᵀ for ggml blocks [N, K] of a type that
    /// <see cref="QuantizedLinearSupports"/>: activations quantized on the fly as llama.cpp does (Q8_0
    /// per block of 32 for Q8_0/Q4_0 weights, Q8_K per 256 for K-quants), integer dot products, float32 sums. x and out contiguous CPU tensors, both
    /// float32 or both bfloat16; out may be wider than N (the parts of a fused projection).</summary>
    public static void QuantizedLinear(Tensor output, Tensor x, QuantizedTensor weight, long column = 0)
    {
        var outputAt = QuantizedLinearOutput("llm_quantized_linear", output, x, weight.Rows, weight.RowLength, column);
        int rc = _quantizedLinear(outputAt, output.size(1), TensorMemory.DataPointer(x),
            x.dtype == ScalarType.BFloat16 ? 1 : 0, x.size(0), x.size(1), weight.Data, (int)weight.Type, weight.Rows);
        GC.KeepAlive(x);
        GC.KeepAlive(output);
        GC.KeepAlive(weight);
        if (rc != 0) throw new ArgumentException($"llm_quantized_linear: {TakeLastError()}");
    }

    /// <summary><see cref="QuantizedLinear(Tensor, Tensor, QuantizedTensor, long)"/> on a packed weight: the same
    /// integers (activations quantized to Q8_0 as llama.cpp does), float32 sums in another order. With
    /// <paramref name="accumulate"/>, out[:, column..] += x · weightᵀ, with the bits of <c>out.add_(x · weightᵀ)</c>.</summary>
    public static void QuantizedLinear(Tensor output, Tensor x, PackedQuantizedWeight weight, long column = 0, bool accumulate = false)
    {
        var outputAt = QuantizedLinearOutput("llm_packed_linear", output, x, weight.Rows, weight.RowLength, column);
        int rc = _packedLinear(outputAt, output.size(1), TensorMemory.DataPointer(x), x.dtype == ScalarType.BFloat16 ? 1 : 0,
            x.size(0), x.size(1), weight.DangerousGetHandle(), accumulate ? 1 : 0);
        GC.KeepAlive(x);
        GC.KeepAlive(output);
        GC.KeepAlive(weight);
        if (rc != 0) throw new ArgumentException($"llm_packed_linear: {TakeLastError()}");
    }

    // Checks the shapes of a quantized linear and returns where its output columns start.
    private static IntPtr QuantizedLinearOutput(string name, Tensor output, Tensor x, long rows, long rowLength, long column)
    {
        EnsureAvailable();
        if (x.dim() != 2 || output.dim() != 2 || x.size(1) != rowLength || output.size(0) != x.size(0) || column < 0 || output.size(1) < column + rows)
            throw new ArgumentException($"{name}: x [{string.Join(", ", x.shape)}], weight [{rows}, {rowLength}] and out [{string.Join(", ", output.shape)}] from column {column} do not fit");
        if (x.dtype != output.dtype || x.dtype is not (ScalarType.Float32 or ScalarType.BFloat16) || x.device_type != DeviceType.CPU || !x.is_contiguous() || !output.is_contiguous())
            throw new ArgumentException($"{name}: x and out must be contiguous CPU tensors, both float32 or both bfloat16");
        return TensorMemory.DataPointer(output) + (nint)(column * (x.dtype == ScalarType.BFloat16 ? 2 : 4));
    }

    // Stack layout of aoti_torch_call_dispatcher: the schema's arguments in order, a new tensor
    // handle for each tensor (the dispatcher takes ownership) and scalars as 8 raw bytes.
    private static void Call(byte* op, ReadOnlySpan<Tensor> tensors, ReadOnlySpan<ulong> scalars)
    {
        EnsureAvailable();
        int n = tensors.Length + scalars.Length;
        ulong* stack = stackalloc ulong[n];
        for (int i = 0; i < tensors.Length; i++)
        {
            IntPtr handle;
            if (_newTensorHandle(tensors[i].Handle, &handle) != 0)
            {
                for (int j = 0; j < i; j++) _deleteTensorHandle((IntPtr)(long)stack[j]);
                throw new InvalidOperationException("aoti_torch_new_tensor_handle failed");
            }
            stack[i] = (ulong)(long)handle;
        }
        for (int i = 0; i < scalars.Length; i++) stack[tensors.Length + i] = scalars[i];
        byte overload = 0;
        int rc = _callDispatcher(op, &overload, stack);
        foreach (var t in tensors) GC.KeepAlive(t);
        if (rc == 0) return;
        string message = Marshal.PtrToStringUTF8(_lastError()) ?? "";
        _clearError();
        string name = Marshal.PtrToStringUTF8((IntPtr)op) ?? "llm op";
        throw new ArgumentException(message.Length > 0 ? $"{name}: {message}" : $"{name} failed in libtorch's dispatcher (see its log on stderr)");
    }

    private static string? Load()
    {
        if (_loaded) return _error;
        lock (Gate)
        {
            if (_loaded) return _error;
            try { _error = LoadLibrary(); }
            catch (Exception e) { _error = e.Message; }
            _loaded = true;
            return _error;
        }
    }

    private static string? LoadLibrary()
    {
        if (!RuntimeInformation.IsOSPlatform(OSPlatform.Linux) || RuntimeInformation.ProcessArchitecture != Architecture.X64)
            return $"built for linux-x64 only (this is {RuntimeInformation.OSDescription}, {RuntimeInformation.ProcessArchitecture})";
        // libtorch must be in the process first: the library links against libtorch_cpu.so (found
        // by soname once TorchSharp has loaded it) and registers its operators at load time.
        using (torch.empty(1)) { }
        string path = Path.Combine(AppContext.BaseDirectory, LibraryFile);
        if (!NativeLibrary.TryLoad(path, out _library) &&
            !NativeLibrary.TryLoad("llm_kernels", typeof(NativeKernels).Assembly, null, out _library))
            return $"{LibraryFile} not found or not loadable (looked in {AppContext.BaseDirectory})";
        string status = Text("llm_native_status");
        if (status != "ok") return $"operator registration failed: {status}";
        _callDispatcher = (delegate* unmanaged<byte*, byte*, ulong*, int>)Export("aoti_torch_call_dispatcher");
        _newTensorHandle = (delegate* unmanaged<IntPtr, IntPtr*, int>)Export("aoti_torch_new_tensor_handle");
        _deleteTensorHandle = (delegate* unmanaged<IntPtr, int>)Export("aoti_torch_delete_tensor_object");
        _lastError = (delegate* unmanaged<IntPtr>)Export("llm_native_last_error");
        _clearError = (delegate* unmanaged<void>)Export("llm_native_clear_error");
        _quantizedLinear = (delegate* unmanaged<IntPtr, long, IntPtr, int, long, long, IntPtr, int, long, int>)Export("llm_quantized_linear");
        _packedLinear = (delegate* unmanaged<IntPtr, long, IntPtr, int, long, long, IntPtr, int, int>)Export("llm_packed_linear");
        _smallLinear = (delegate* unmanaged<IntPtr, IntPtr, IntPtr, int, long, long, long, int>)Export("llm_small_linear");
        _pagedAttentionDirect = (delegate* unmanaged<RawTensor*, int, double, long, long, long, double, int>)Export("llm_paged_attention_direct");
        _bf16Dot = (delegate* unmanaged<int>)Export("llm_native_bf16_dot");
        _f32Gemm = (delegate* unmanaged<int>)Export("llm_native_f32_gemm");
        _threadCpu = (delegate* unmanaged<long>)Export("llm_native_thread_cpu_ns");
        _poolCpu = (delegate* unmanaged<long>)Export("llm_native_pool_cpu_ns");
        string cudaPath = Path.Combine(AppContext.BaseDirectory, CudaLibraryFile);
        _cuda = File.Exists(cudaPath) && torch.cuda.is_available() && NativeLibrary.TryLoad(cudaPath, out var cuda) &&
                Marshal.PtrToStringUTF8(((delegate* unmanaged<IntPtr>)NativeLibrary.GetExport(cuda, "llm_native_cuda_status"))()) == "ok";
        return null;
    }

    // dlsym on our handle also searches its dependencies, so libtorch_cpu.so's exports resolve too.
    internal static IntPtr Export(string name) => NativeLibrary.GetExport(_library, name);

    /// <summary>The reason the last native call on this thread failed, cleared once read.</summary>
    internal static string TakeLastError()
    {
        string message = Marshal.PtrToStringUTF8(_lastError()) ?? "";
        _clearError();
        return message;
    }

    private static string Text(string function) =>
        Marshal.PtrToStringUTF8(((delegate* unmanaged<IntPtr>)Export(function))()) ?? "";
}
