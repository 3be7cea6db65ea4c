using LlmEngine.Kernels.Tokenizers;

namespace LlmEngine.Kernels.Models;

/// <summary>A model ready to run, with its tokenizer (null when the model has none) and where it came from.</summary>
public sealed record LoadedModel(ICausalLanguageModel Model, ITokenizer? Tokenizer, string Name, string Description, bool IsDefault) : IDisposable
{
    public ModelConfig Config => Model.Config;

    /// <summary>The chat template the model file itself carries (GGUF's tokenizer.chat_template); null when
    /// it has none or keeps it beside the weights (Hugging Face's tokenizer_config.json).</summary>
    public string? ChatTemplate { get; init; }

    /// <summary>Whether linear layers compute on ggml blocks (<c>--quantization</c>, or a GGUF file's quantized
    /// blocks on the native kernels); such a model computes in float32 all the same.</summary>
    public bool QuantizedWeights { get; init; }
    public void Dispose() => Model.Dispose();
}
