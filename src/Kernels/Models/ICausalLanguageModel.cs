using LlmEngine.Kernels.Attention;
using TorchSharp;

namespace LlmEngine.Kernels.Models;

/// <summary>A decoder-only model that runs one forward pass over a flattened, unpadded batch of
/// tokens from several sequences (one position per token), with attention through a backend.</summary>
public interface ICausalLanguageModel : IDisposable
{
    ModelConfig Config { get; }
    torch.ScalarType DType { get; }
    torch.Device Device { get; }

    /// <param name="tokens">int64 [tokens]</param>
    /// <param name="positions">int64 [tokens]</param>
    /// <param name="logitRows">int64 indices of the tokens whose logits are wanted</param>
    /// <returns>float32 logits [logitRows, vocab] (a tensor-parallel rank's model: its slice of the vocabulary)</returns>
    torch.Tensor Forward(torch.Tensor tokens, torch.Tensor positions, AttentionBatch batch, IAttentionBackend attention, torch.Tensor logitRows);
}
