using LlmEngine.Kernels.Tokenizers;

namespace LlmEngine.Kernels.Models;

/// <summary>A model ready to run, with its tokenizer (null when the model has none) and where it came from.</summary>
public sealed record LoadedModel(ICausalLanguageModel Model, ITokenizer? Tokenizer, string Name, string Description, bool IsDefault) : IDisposable
{
    public ModelConfig Config => Model.Config;
    public void Dispose() => Model.Dispose();
}
