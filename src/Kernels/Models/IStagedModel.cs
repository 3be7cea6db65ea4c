using LlmEngine.Kernels.Attention;
using LlmEngine.Kernels.Sharding;
using TorchSharp;

namespace LlmEngine.Kernels.Models;

/// <summary>A model that can be one pipeline stage: it holds only its <see cref="Stage"/>'s layers
/// and runs them on the hidden states the stage before it produced.</summary>
internal interface IStagedModel : ICausalLanguageModel
{
    PipelineStage Stage { get; }

    /// <param name="hidden">the previous stage's output [tokens, hidden] (read, not changed); null on the first stage,
    /// which embeds <paramref name="tokens"/></param>
    /// <returns>the last stage: float32 logits [logitRows, vocab] as <see cref="ICausalLanguageModel.Forward"/>;
    /// any other stage: the hidden states after its layers [tokens, hidden] in the model's dtype</returns>
    torch.Tensor Forward(torch.Tensor? hidden, torch.Tensor tokens, torch.Tensor positions, AttentionBatch batch, IAttentionBackend attention, torch.Tensor logitRows);
}
