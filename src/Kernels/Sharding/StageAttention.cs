using LlmEngine.Kernels.Attention;
using TorchSharp;

namespace LlmEngine.Kernels.Sharding;

/// <summary>A pipeline stage's attention: its KV cache holds only its own layers, so the model's
/// layer numbers are counted from the stage's first layer.</summary>
internal sealed class StageAttention(IAttentionBackend inner, int firstLayer) : IAttentionBackend
{
    public string Name => inner.Name;

    public torch.Tensor Forward(int layer, torch.Tensor query, torch.Tensor key, torch.Tensor value, AttentionScores scores, AttentionBatch batch) =>
        inner.Forward(layer - firstLayer, query, key, value, scores, batch);
}
