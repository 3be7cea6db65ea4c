using LlmEngine.Kernels.Models;
using LlmEngine.Kernels.Runtime;

namespace LlmEngine.Kernels.Workers;

/// <summary>One pipeline stage (or the whole model) as built: its model (rank 0's part when
/// tensor-parallel), its runner as a stage and as a whole step, its KV block counts, the attention
/// backend's name and what it owns (model parts, caches, rank threads).</summary>
public sealed record WorkerStage(LoadedModel Model, IStageRunner Runner, IStepRunner Whole, (int Device, int Swap) Blocks, string Attention, IDisposable Resources);
