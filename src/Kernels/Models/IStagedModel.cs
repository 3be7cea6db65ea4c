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
    /// <returns>the last stage: float32 logits [logitRows, vocab] as <see cref="ICausalLanguageModel.Forward"/>, or
    /// without the head (<see cref="PipelineStage.HeadOnFirst"/>) the hidden states of the logit rows [logitRows, hidden];
    /// any other stage: the hidden states after its layers [tokens, hidden] in the model's dtype</returns>
    torch.Tensor Forward(torch.Tensor? hidden, torch.Tensor tokens, torch.Tensor positions, AttentionBatch batch, IAttentionBackend attention, torch.Tensor logitRows);

    /// <summary>The final norm and the LM head on the last layer's hidden states of some rows [rows, hidden]:
    /// float32 logits [rows, vocab] (a tensor-parallel rank's: its slice of the vocabulary). Only a stage
    /// that <see cref="PipelineStage.HasHead"/>.</summary>
    torch.Tensor Head(torch.Tensor rows);
}
