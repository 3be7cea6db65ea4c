using LlmEngine.Contracts;
using LlmEngine.Kernels.Runtime;
using LlmEngine.Scheduling;
using TorchSharp;

namespace LlmEngine.Actors.Distributed;

/// <summary>A step and its tensors as <see cref="StageStep"/> and <see cref="StageTensor"/> carry
/// them between the head and a worker node: plain arrays, and tensors as their raw bytes (so
/// hidden states arrive bit for bit). Samples do not travel: only the head samples.</summary>
internal static class StageWire
{
    public static StageStep Step(long id, ModelStep step, torch.Tensor? hidden) => new(id, step.SequenceIds, step.TokenIds, step.Positions,
        step.QueryStarts, step.ContextLengths, step.BlockTables, step.SlotMapping, step.LogitTokenIndices, step.SampleLogitRows,
        Flat(step.CacheOperations.SwapOut), Flat(step.CacheOperations.SwapIn), Flat(step.CacheOperations.Copies), hidden is null ? null : Tensor(hidden));

    public static ModelStep Step(StageStep wire) => new(wire.SequenceIds, wire.TokenIds, wire.Positions, wire.QueryStarts, wire.ContextLengths,
        wire.BlockTables, wire.SlotMapping, wire.LogitTokenIndices, wire.SampleLogitRows, [],
        new CacheOperationsPlan(Pairs(wire.SwapOut), Pairs(wire.SwapIn), Pairs(wire.Copies)));

    public static StageTensor Tensor(torch.Tensor tensor)
    {
        // Each step in a variable: an unreferenced temporary could be freed by its finalizer mid-call.
        using var onCpu = tensor.cpu();
        using var cpu = onCpu.contiguous();
        return new StageTensor(DTypeName(cpu.dtype), cpu.shape, cpu.bytes.ToArray());
    }

    public static torch.Tensor Tensor(StageTensor wire)
    {
        var tensor = torch.empty(wire.Shape, DTypeOf(wire.DType));
        if (tensor.NumberOfElements * tensor.ElementSize != wire.Data.Length)
        {
            tensor.Dispose();
            throw new InvalidDataException($"a {wire.DType} tensor of shape [{string.Join(", ", wire.Shape)}] came with {wire.Data.Length} bytes");
        }
        tensor.bytes = wire.Data;
        return tensor;
    }

    /// <summary>Bytes of a tensor on the wire (its data; the record adds a few dozen).</summary>
    public static long Bytes(StageTensor? tensor) => tensor?.Data.LongLength ?? 0;

    private static string DTypeName(torch.ScalarType dtype) => dtype switch
    {
        torch.ScalarType.Float32 => "float32",
        torch.ScalarType.BFloat16 => "bfloat16",
        torch.ScalarType.Float16 => "float16",
        _ => throw new NotSupportedException($"{dtype} tensors do not travel between stages"),
    };

    private static torch.ScalarType DTypeOf(string name) => name switch
    {
        "float32" => torch.ScalarType.Float32,
        "bfloat16" => torch.ScalarType.BFloat16,
        "float16" => torch.ScalarType.Float16,
        _ => throw new InvalidDataException($"unknown tensor dtype '{name}'"),
    };

    private static int[] Flat(IReadOnlyList<(int, int)> pairs) => [.. pairs.SelectMany(p => new[] { p.Item1, p.Item2 })];

    private static (int, int)[] Pairs(int[] flat) => [.. Enumerable.Range(0, flat.Length / 2).Select(i => (flat[2 * i], flat[2 * i + 1]))];
}
