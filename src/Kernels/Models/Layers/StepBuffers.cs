using TorchSharp;
using static TorchSharp.torch;

namespace LlmEngine.Kernels.Models.Layers;

/// <summary>
/// Memory a layer's many-row temporaries are written into, kept by the thread across layers and steps.
/// A prompt chunk's norms, projections and activation (1,365 rows of llama-110m: 4-22 MB each, about
/// 60 MB per layer) came back from the allocator as fresh memory for every layer, whose first writes
/// faulted page by page (hypervisor traps, and the kernel zeroing each page) and put the data out of
/// the caches; written here, each temporary of a layer reuses the same memory as in the layer before.
/// A slot holds one value at a time: the caller owns the slot from the moment it asks for it until it
/// asks for the same slot again (within one layer's forward). Per thread, so engines stepping on
/// threads of their own never share one. Under <see cref="MinRows"/> rows (decode steps) and with
/// LLM_STEP_BUFFERS=0 callers allocate as before.
/// </summary>
internal static class StepBuffers
{
    /// <summary>Fewer rows than this allocate as before: their temporaries are small and come from the allocator's free lists.</summary>
    public const long MinRows = 64;

    public enum Slot { Normed, Qkv, Projected, GateUp, Activated, Count }

    /// <summary>False: every temporary allocated as before, to compare on one build (process-wide, as
    /// <see cref="Native.FusedOps.Enabled"/>). Starts false when the environment sets LLM_STEP_BUFFERS=0.</summary>
    public static bool Enabled { get; set; } = Environment.GetEnvironmentVariable("LLM_STEP_BUFFERS") != "0";

    [ThreadStatic] private static Tensor?[]? _buffers;

    /// <summary>A [rows, columns] CPU tensor of <paramref name="dtype"/> in the thread's memory for
    /// <paramref name="slot"/> (its previous value is overwritten by whoever writes it), or null where
    /// the caller should allocate: under <see cref="MinRows"/> rows, off the CPU, or turned off.</summary>
    public static Tensor? Rows(Slot slot, long rows, long columns, ScalarType dtype, Device device)
    {
        if (!Enabled || rows < MinRows || device.type != DeviceType.CPU) return null;
        var buffers = _buffers ??= new Tensor?[(int)Slot.Count];
        long elements = rows * columns;
        ref var buffer = ref buffers[(int)slot];
        if (buffer is null || buffer.dtype != dtype || buffer.numel() < elements)
        {
            long capacity = Math.Max(elements, buffer is null || buffer.dtype != dtype ? 0 : buffer.numel() * 5 / 4);
            buffer?.Dispose();
            // Outlives every dispose scope: the views handed out are the callers'.
            buffer = empty(capacity, dtype: dtype).DetachFromDisposeScope();
        }
        return buffer.narrow(0, 0, elements).view(rows, columns);
    }
}
