using LlmEngine.Kernels.Tokenizers;

namespace LlmEngine.Kernels.Models;

/// <summary>What a model is without its weights: its config, tokenizer and name. A router that
/// holds no model (<c>serve --no-engine</c>) tokenizes and checks requests with it
/// (<see cref="ModelFactory.Describe"/>).</summary>
public sealed record ModelHeader(ModelConfig Config, ITokenizer? Tokenizer, string Name, string Description, bool IsDefault);
