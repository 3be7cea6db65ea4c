using LlmEngine.Kernels.Loading;
using LlmEngine.Kernels.Models.Layers;
using LlmEngine.Kernels.Native;
using LlmEngine.Kernels.Sharding;
using LlmEngine.Kernels.Quantization;
using TorchSharp;
using static TorchSharp.torch;

namespace LlmEngine.Kernels.Models;

/// <summary>
/// Reads a model's named weights with the shapes the model expects, in its dtype and on its
/// device. Without a source (the dummy load format) every weight is drawn from a generator
/// seeded by the weight's name, so a dummy model is the same whatever order it is built in.
/// With a quantization type, <see cref="AsLinear"/> turns linear layers' weights into ggml blocks.
/// A source that stores blocks (GGUF) hands linear layers its blocks as they are when the native
/// quantized kernel takes their type, as llama.cpp computes with them; with
/// <paramref name="dequantize"/> (or a type the kernel lacks) they are decoded exactly into the dtype.
/// With a tensor-parallel <see cref="Shard"/>, models keep only their rank's part of what they read;
/// with a pipeline <see cref="Stage"/>, only their stage's layers.
/// </summary>
public sealed class WeightReader(IWeightSource? source, string origin, ScalarType dtype, Device device, long seed = 0, GgmlType? quantization = null,
    bool dequantize = false, TensorShard? shard = null, PipelineStage? stage = null)
{
    /// <summary>The part of each layer the model being read keeps (<see cref="TensorShard.Whole"/>: all of it).</summary>
    public TensorShard Shard { get; } = shard ?? TensorShard.Whole;

    /// <summary>The layers (and ends) the model being read keeps (<see cref="PipelineStage.Whole"/>: all of them).</summary>
    public PipelineStage Stage { get; } = stage ?? PipelineStage.Whole;

    public GgmlType? Quantization => quantization;

    /// <summary>Whether any linear layer read so far computes on ggml blocks (quantized here, or a source's
    /// blocks kept as stored): the native quantized kernels, on float32 activations.</summary>
    public bool ReadBlocks { get; private set; }

    /// <summary>
    /// A linear layer's weight [out, in] as the model computes with it: quantized to this reader's
    /// type (ggml's reference quantizer, as llama-quantize without an importance matrix) when one
    /// was asked for and its rows are whole blocks; else the tensor itself.
    /// Takes ownership of an owned tensor (disposed once quantized); a borrowed one (a head tied
    /// to the embedding) is left alone.
    /// </summary>
    public LinearWeight AsLinear(Tensor weight, bool owned = true)
    {
        if (quantization is not { } type || weight.shape[^1] % GgmlTypeInfo.Of(type).BlockElements != 0)
            return LinearWeight.Of(weight, owned);
        var quantized = QuantizedTensorConversions.Quantize(weight, type);
        if (owned) weight.Dispose();
        ReadBlocks = true;
        return LinearWeight.Of(quantized);
    }

    /// <summary>A linear layer's weight [Σ rows, columns]: the named parts stacked by rows (one part,
    /// or the separately stored parts of a fused projection such as q, k and v).</summary>
    public LinearWeight ReadLinear(long columns, params (string Name, long Rows)[] parts)
    {
        if (StoredBlocks(columns, parts) is { } blocks) return LinearWeight.Of(blocks);
        var tensors = parts.Select(p => Read(p.Name, p.Rows, columns)).ToArray();
        var dense = tensors.Length == 1 ? tensors[0] : Fused.Rows(tensors);
        return StoredAsHalf(parts) ? LinearWeight.OfHalf(dense) : AsLinear(dense);
    }

    public LinearWeight ReadLinear(string name, long rows, long columns) => ReadLinear(columns, (name, rows));

    /// <summary>An output head tied to the embedding: the embedding's stored blocks where they stay
    /// quantized, else the embedding tensor itself (borrowed; the model disposes it).</summary>
    public LinearWeight TiedHead(Tensor embedding, string embeddingName) =>
        StoredBlocks(embedding.shape[1], [(embeddingName, embedding.shape[0])]) is { } blocks ? LinearWeight.Of(blocks) : AsLinear(embedding, owned: false);

    // llama.cpp computes F16 weights on F16 activations; a file's F16 weights are kept as such unless decoding is asked for.
    private bool StoredAsHalf((string Name, long Rows)[] parts) =>
        !dequantize && source is IQuantizedWeightSource stored && parts.All(p => stored.StoredType(p.Name) == GgmlType.F16);

    private QuantizedTensor[]? StoredBlocks(long columns, (string Name, long Rows)[] parts)
    {
        if (dequantize || source is not IQuantizedWeightSource stored || device.type != DeviceType.CPU
            || dtype is not (ScalarType.Float32 or ScalarType.BFloat16) || !NativeKernels.IsAvailable
            || !parts.All(p => stored.Contains(p.Name) && NativeKernels.QuantizedLinearSupports(stored.StoredType(p.Name))))
            return null;
        foreach (var (name, rows) in parts) CheckShape(name, [rows, columns]);
        ReadBlocks = true;
        return parts.Select(p => stored.Quantized(p.Name)).ToArray();
    }

    public ScalarType DType => dtype;
    public Device Device => device;
    public bool IsDummy => source is null;

    /// <summary>A matrix or vector; dummy values ~ N(0, 0.02²).</summary>
    public Tensor Read(string name, params long[] shape) => Fetch(name, shape, DummyKind.Random);

    /// <summary>A normalisation gain; dummy values are ones.</summary>
    public Tensor ReadGain(string name, params long[] shape) => Fetch(name, shape, DummyKind.Ones);

    /// <summary>A bias; dummy values are zeros.</summary>
    public Tensor ReadBias(string name, params long[] shape) => Fetch(name, shape, DummyKind.Zeros);

    public bool Has(string name) => source?.Contains(name) ?? false;

    private enum DummyKind { Random, Ones, Zeros }

    private Tensor Fetch(string name, long[] shape, DummyKind kind)
    {
        if (source is null) return Dummy(name, shape, kind);
        CheckShape(name, shape);
        // The scope holds every intermediate until the result is out: an unreferenced intermediate can
        // be finalized (its native tensor freed) while the next call in the chain still reads it.
        using var scope = NewDisposeScope();
        return source.Load(name, dtype).to(device).contiguous().detach().MoveToOuterDisposeScope();
    }

    private void CheckShape(string name, long[] shape)
    {
        if (!source!.Contains(name))
            throw new ModelLoadException($"{origin}: tensor '{name}' is missing");
        var stored = source.Shape(name);
        if (!stored.SequenceEqual(shape))
            throw new ModelLoadException($"{origin}: tensor '{name}' has shape [{string.Join(", ", stored)}], expected [{string.Join(", ", shape)}]");
    }

    private Tensor Dummy(string name, long[] shape, DummyKind kind)
    {
        if (kind == DummyKind.Ones) return ones(shape, dtype: dtype, device: device);
        if (kind == DummyKind.Zeros) return zeros(shape, dtype: dtype, device: device);
        using var generator = new Generator((ulong)unchecked(seed * 1_000_003 + StableHash(name)));
        using var scope = NewDisposeScope();
        return randn(shape, dtype: float32, generator: generator).mul_(0.02).to(dtype).to(device).MoveToOuterDisposeScope();
    }

    // string.GetHashCode is randomised per process; weights must not be.
    private static long StableHash(string text)
    {
        ulong h = 14695981039346656037UL;
        foreach (char c in text) { h ^= c; h *= 1099511628211UL; }
        return (long)(h & 0x7FFF_FFFF_FFFF);
    }
}
