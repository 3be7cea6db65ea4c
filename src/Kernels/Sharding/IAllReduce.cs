using TorchSharp;

namespace LlmEngine.Kernels.Sharding;

/// <summary>The all-reduce of a tensor-parallel group: the rank threads of one process
/// (<see cref="SharedMemoryAllReduce"/>) or ranks on different nodes (<see cref="SocketAllReduce"/>).</summary>
public interface IAllReduce
{
    /// <summary>Sums <paramref name="partial"/> (a contiguous CPU tensor, float32 or bfloat16, the same shape on
    /// every rank) over the ranks, in place, adding the ranks' values in rank order so that every rank holds the same bits.</summary>
    void Sum(int rank, torch.Tensor partial);
}
