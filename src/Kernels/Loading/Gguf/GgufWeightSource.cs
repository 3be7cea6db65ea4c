using LlmEngine.Kernels.Quantization;
using TorchSharp;

namespace LlmEngine.Kernels.Loading.Gguf;

/// <summary>A GGUF file's weights under Hugging Face names (see <see cref="IGgufArchitecture.Tensors"/>),
/// dequantized exactly into float32 before conversion to the model's dtype. Q and K rows come back in
/// Hugging Face's order: llama.cpp's converter grouped each head's rows as (pair, half) for ggml's
/// interleaved rotary; <see cref="RotaryRows"/> undoes that.</summary>
internal sealed class GgufWeightSource : IQuantizedWeightSource
{
    private readonly GgufFile _file;
    private readonly IReadOnlyDictionary<string, GgufTensorRef> _tensors;

    public GgufWeightSource(GgufFile file, IReadOnlyDictionary<string, GgufTensorRef> tensors)
    {
        _file = file;
        _tensors = tensors;
    }

    public GgufFile File => _file;

    /// <summary>The file's weights as its architecture names them for the engine's model.</summary>
    public static GgufWeightSource Open(string path)
    {
        var file = GgufFile.Open(path);
        try
        {
            var architecture = GgufArchitectures.Of(file);
            return new GgufWeightSource(file, architecture.Tensors(architecture.ReadConfig(file), file));
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    public IReadOnlyCollection<string> Names => _tensors.Keys.ToList();

    public bool Contains(string name) => _tensors.ContainsKey(name);

    public long[] Shape(string name) => (long[])_file.Info(Ref(name).GgufName).Shape.Clone();

    public GgmlType StoredType(string name) => _file.Info(Ref(name).GgufName).Type;

    public torch.Tensor Load(string name, torch.ScalarType dtype)
    {
        using var blocks = Quantized(name);
        return blocks.ToTensor(dtype);
    }

    /// <summary>The named weight as stored (quantized), rows in Hugging Face's order: a view of the mapped
    /// file, or a row-permuted copy for Q and K. The caller disposes it.</summary>
    public QuantizedTensor Quantized(string name)
    {
        var reference = Ref(name);
        var stored = _file.Tensor(reference.GgufName);
        if (reference.RotaryHeads == 0) return stored;
        using (stored) return RotaryRows.Unpermute(stored, reference.RotaryHeads);
    }

    public void Dispose() => _file.Dispose();

    private GgufTensorRef Ref(string name) => _tensors.TryGetValue(name, out var reference)
        ? reference
        : throw new ModelLoadException($"{_file.Path}: no tensor for '{name}'");
}
