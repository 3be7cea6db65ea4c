using LlmEngine.Scheduling;

namespace LlmEngine.Kernels.Cache;

/// <summary>A step's block moves on a paged cache (swap out, swap in, copy-on-write), as the
/// scheduler planned them; the runner applies them before the forward pass (<see cref="BlockMoves"/>).</summary>
public interface ICacheOperations
{
    void Apply(CacheOperationsPlan plan);
}
