using LlmEngine.Kernels.Loading;

namespace LlmEngine.Kernels.Models;

/// <summary>A model family: which Hugging Face architectures it serves, how it reads their
/// config.json, and how it builds the model from named weights.</summary>
public interface IModelFamily
{
    /// <summary>Values of config.json's <c>architectures</c> this family serves.</summary>
    IReadOnlyList<string> Architectures { get; }
    /// <summary>Values of config.json's <c>model_type</c> this family serves.</summary>
    IReadOnlyList<string> ModelTypes { get; }
    ModelConfig ReadConfig(HuggingFaceConfig config);
    ICausalLanguageModel Create(ModelConfig config, WeightReader weights);
}
