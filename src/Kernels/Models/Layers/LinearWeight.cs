using LlmEngine.Kernels.Native;
using LlmEngine.Kernels.Quantization;
using TorchSharp;

namespace LlmEngine.Kernels.Models.Layers;

/// <summary>
/// The weight [out_features, in_features] of a linear layer, as <see cref="Linear"/> computes with
/// it: a tensor in the model's dtype, or ggml blocks that the native quantized kernel reads as they
/// are. Blocks may come in parts stacked by rows (a fused projection whose parts a GGUF file stores
/// apart, possibly in different types). <see cref="WeightReader"/> decides which. A float32 or bfloat16 CPU
/// weight is repacked for the packed GEMM where the CPU allows (<see cref="PackedDenseWeight"/>: AVX-512,
/// bfloat16 with AVX512_BF16), which then serves every row count: the dense copy is dropped unless it is
/// borrowed (a head tied to the embedding, which the embedding still needs).
/// </summary>
public sealed class LinearWeight : IDisposable
{
    private readonly bool _owned;

    private LinearWeight(torch.Tensor? dense, IReadOnlyList<QuantizedLinearPart>? parts, bool owned, bool halfInputs = false,
        PackedDenseWeight? packed = null)
    {
        Dense = dense;
        QuantizedParts = parts;
        _owned = owned;
        HalfInputs = halfInputs;
        Packed = packed;
        OutFeatures = dense?.size(0) ?? packed?.Rows ?? parts!.Sum(p => p.Rows);
    }

    /// <summary>The weight as a tensor; null when only the packed copy is kept.</summary>
    public torch.Tensor? Dense { get; }

    /// <summary>The weight packed for the packed GEMM, which <see cref="Linear"/> then uses for every row count.</summary>
    public PackedDenseWeight? Packed { get; }

    private static readonly bool PacksBFloat16 = Environment.GetEnvironmentVariable("LLM_BF16_PACKED") != "0";
    private static readonly bool PacksFloat32 = Environment.GetEnvironmentVariable("LLM_F32_PACKED") != "0";

    /// <summary>Whether weights of <paramref name="dtype"/> are packed at load where the CPU allows;
    /// <c>LLM_BF16_PACKED=0</c> and <c>LLM_F32_PACKED=0</c> keep them dense (libtorch's GEMM and the
    /// small-batch kernels), to compare on one build.</summary>
    public static bool Packs(torch.ScalarType dtype) =>
        dtype == torch.ScalarType.BFloat16 ? PacksBFloat16 : dtype == torch.ScalarType.Float32 && PacksFloat32;

    /// <summary>Inputs are rounded to float16 first: a GGUF file's F16 weights computed as llama.cpp
    /// does (its F16 matmuls convert the activations to F16).</summary>
    public bool HalfInputs { get; }

    /// <summary>The blocks, by rows: the output's columns are the parts' rows in order.</summary>
    public IReadOnlyList<QuantizedLinearPart>? QuantizedParts { get; }

    /// <summary>The weight as a tensor: <see cref="Dense"/>, or a new one unpacked from the packed copy (the caller disposes it).</summary>
    public torch.Tensor? DenseOrUnpacked() => Dense is null && Packed is { } packed ? packed.Unpack() : Dense;

    /// <summary>Output columns; read once per product, so computed once (a tensor's shape is a new array each read).</summary>
    public long OutFeatures { get; }

    /// <summary>A dense weight; <paramref name="owned"/>: disposed with this one (not so for a head
    /// tied to the embedding, which the model disposes). A float32 or bfloat16 one is packed where <see cref="Packs"/>
    /// and the CPU allow (and <paramref name="pack"/>); an owned one is then released.</summary>
    public static LinearWeight Of(torch.Tensor dense, bool owned = true, bool pack = true)
    {
        if (pack && Packs(dense.dtype) && PackedDenseWeight.TryPack(dense) is { } packed)
        {
            if (!owned) return new(dense, null, owned: false, packed: packed);
            dense.Dispose();
            return new(null, null, owned: true, packed: packed);
        }
        return new(owned ? Placed(dense) : Advised(dense), null, owned);
    }

    /// <summary>A dense weight decoded from F16 blocks, whose inputs are rounded to float16 as llama.cpp's are.</summary>
    public static LinearWeight OfHalf(torch.Tensor dense) => new(Placed(dense), null, true, halfInputs: true);

    // A decode step streams every weight once: on huge pages where the OS allows (HugePages). An
    // owned weight moves into memory that huge pages cover whole; a borrowed one is advised in place.
    private static torch.Tensor Placed(torch.Tensor dense)
    {
        var placed = HugePages.Place(dense);
        if (!ReferenceEquals(placed, dense)) dense.Dispose();
        return placed;
    }

    private static torch.Tensor Advised(torch.Tensor dense)
    {
        HugePages.Advise(dense);
        return dense;
    }

    /// <summary>Blocks, owned; every part has the same row length.</summary>
    public static LinearWeight Of(params QuantizedTensor[] parts)
    {
        if (parts.Length == 0 || parts.Any(p => p.RowLength != parts[0].RowLength))
            throw new ArgumentException("a quantized linear weight needs one or more parts of the same row length");
        var owned = new List<QuantizedLinearPart>(parts.Length);
        try
        {
            foreach (var part in parts) owned.Add(new QuantizedLinearPart(part));
        }
        catch
        {
            foreach (var part in owned) part.Dispose();
            foreach (var part in parts.Skip(owned.Count + 1)) part.Dispose();
            throw;
        }
        return new(null, owned, true);
    }

    public void Dispose()
    {
        if (QuantizedParts is not null) foreach (var part in QuantizedParts) part.Dispose();
        Packed?.Dispose();
        if (_owned) Dense?.Dispose();
    }
}
