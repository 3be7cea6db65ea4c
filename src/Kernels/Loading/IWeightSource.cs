using TorchSharp;

namespace LlmEngine.Kernels.Loading;

/// <summary>Where a model's named tensors come from: safetensors files (mapped from disk),
/// a llama2.c checkpoint, or seeded random values (dummy load format). Names follow the
/// Hugging Face checkpoint of the family (e.g. <c>model.layers.0.self_attn.q_proj.weight</c>).</summary>
public interface IWeightSource : IDisposable
{
    IReadOnlyCollection<string> Names { get; }
    bool Contains(string name);

    /// <summary>Shape as stored.</summary>
    long[] Shape(string name);

    /// <summary>A new CPU tensor holding the named weights converted to <paramref name="dtype"/>.
    /// Throws <see cref="ModelLoadException"/> naming the file when the tensor is missing or
    /// its stored type is unsupported.</summary>
    torch.Tensor Load(string name, torch.ScalarType dtype);
}
