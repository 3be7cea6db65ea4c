using LlmEngine.Kernels.Native;
using LlmEngine.Kernels.Quantization;
using TorchSharp;

namespace LlmEngine.Kernels.Models.Layers;

/// <summary>
/// The weight [out_features, in_features] of a linear layer, as <see cref="Linear"/> computes with
/// it: a tensor in the model's dtype, or ggml blocks that the native quantized kernel reads as they
/// are. Blocks may come in parts stacked by rows (a fused projection whose parts a GGUF file stores
/// apart, possibly in different types). <see cref="WeightReader"/> decides which.
/// </summary>
public sealed class LinearWeight : IDisposable
{
    private readonly bool _owned;

    private LinearWeight(torch.Tensor? dense, IReadOnlyList<QuantizedLinearPart>? parts, bool owned, bool halfInputs = false)
    {
        Dense = dense;
        QuantizedParts = parts;
        _owned = owned;
        HalfInputs = halfInputs;
    }

    public torch.Tensor? Dense { get; }

    /// <summary>Inputs are rounded to float16 first: a GGUF file's F16 weights computed as llama.cpp
    /// does (its F16 matmuls convert the activations to F16).</summary>
    public bool HalfInputs { get; }

    /// <summary>The blocks, by rows: the output's columns are the parts' rows in order.</summary>
    public IReadOnlyList<QuantizedLinearPart>? QuantizedParts { get; }

    public long OutFeatures => Dense?.shape[0] ?? QuantizedParts!.Sum(p => p.Rows);

    /// <summary>A dense weight; <paramref name="owned"/>: disposed with this one (not so for a head
    /// tied to the embedding, which the model disposes).</summary>
    public static LinearWeight Of(torch.Tensor dense, bool owned = true) => new(owned ? Placed(dense) : Advised(dense), null, owned);

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
        if (_owned) Dense?.Dispose();
    }
}
