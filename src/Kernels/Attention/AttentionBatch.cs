using TorchSharp;

namespace LlmEngine.Kernels.Attention;

/// <summary>
/// What attention needs to know about one step's flattened, unpadded batch. Sequence i owns
/// query tokens <c>[QueryStarts[i], QueryStarts[i+1])</c> of the batch; after this step its
/// cache holds <c>ContextLengths[i]</c> tokens, the last of which are those query tokens, so
/// query token j of sequence i sits at position <c>ContextLengths[i] - (QueryStarts[i+1] - QueryStarts[i]) + j</c>
/// and attends causally to positions up to and including its own.
/// <code>
///  tokens:   | s0: 5 prompt tokens | s1: 1 decode | s2: chunk of 3 |
///  starts:   0                     5             6                9
///  slots:    where each token's K/V goes: block * blockSize + offset
///  tables:   s0 -> [7, 2], s1 -> [4, 9, 1], s2 -> [3]   (physical block ids)
/// </code>
/// </summary>
public sealed class AttentionBatch : IDisposable
{
    public AttentionBatch(int[] sequenceIds, int[] queryStarts, int[] contextLengths, int[][] blockTables, long[] slotMapping)
    {
        if (queryStarts.Length != sequenceIds.Length + 1 || contextLengths.Length != sequenceIds.Length)
            throw new ArgumentException("queryStarts needs one more entry than sequenceIds; contextLengths one per sequence");
        SequenceIds = sequenceIds;
        QueryStarts = queryStarts;
        ContextLengths = contextLengths;
        BlockTables = blockTables;
        SlotMapping = slotMapping;
    }

    /// <summary>Engine-wide ids; the dense reference cache keys its per-sequence tensors by them.</summary>
    public int[] SequenceIds { get; }
    public int[] QueryStarts { get; }
    public int[] ContextLengths { get; }
    /// <summary>Tokens each sequence has in all, at least its context length (a prompt's chunk
    /// knows the whole prompt); Phi-3's longrope picks its factors by it. Defaults to the context lengths.</summary>
    public int[]? SequenceLengths
    {
        get => _sequenceLengths ?? ContextLengths;
        init => _sequenceLengths = value;
    }
    private readonly int[]? _sequenceLengths;

    /// <summary>Physical block ids per sequence (paged backends only; empty for the dense path).</summary>
    public int[][] BlockTables { get; }
    /// <summary>Per query token, its K/V slot in the paged cache (paged backends only).</summary>
    public long[] SlotMapping { get; }

    public int NumSequences => SequenceIds.Length;
    public int NumTokens => QueryStarts[^1];
    public int QueryLength(int sequence) => QueryStarts[sequence + 1] - QueryStarts[sequence];
    public int FirstQueryPosition(int sequence) => ContextLengths[sequence] - QueryLength(sequence);

    // Built on first use, possibly inside a layer's dispose scope; the batch owns them for the
    // whole step, so they are detached from any scope and disposed with the batch.
    private torch.Tensor? _slotTensor, _blockTableTensor, _contextTensor, _queryStartTensor;

    /// <summary>Slot mapping as an int64 tensor, built once per step on <paramref name="device"/>.</summary>
    public torch.Tensor SlotMappingTensor(torch.Device device) =>
        _slotTensor ??= torch.tensor(SlotMapping, dtype: torch.int64, device: device).DetachFromDisposeScope();

    /// <summary>Block tables padded with zeros to the longest one, [sequences, maxBlocks] int32.</summary>
    public torch.Tensor BlockTableTensor(torch.Device device)
    {
        if (_blockTableTensor is not null) return _blockTableTensor;
        var (flat, width) = FlatBlockTables();
        using var rows = torch.tensor(flat, dtype: torch.int32, device: device);  // held: the view below is made from it
        return _blockTableTensor = rows.reshape(NumSequences, width).DetachFromDisposeScope();
    }

    /// <summary>Block tables padded with zeros to the longest one (at least 1), row-major
    /// [sequences, width]; built once per step.</summary>
    public (int[] Flat, int Width) FlatBlockTables()
    {
        if (_flatBlockTables is { } built) return built;
        int width = Math.Max(1, BlockTables.Length == 0 ? 1 : BlockTables.Max(t => t.Length));
        var flat = new int[NumSequences * width];
        for (int i = 0; i < BlockTables.Length; i++) BlockTables[i].CopyTo(flat, i * width);
        return (_flatBlockTables = (flat, width)).Value;
    }
    private (int[], int)? _flatBlockTables;

    /// <summary>The longest context of the batch (0 when empty).</summary>
    public int MaxContextLength => _maxContextLength ??= ContextLengths.Length == 0 ? 0 : ContextLengths.Max();
    private int? _maxContextLength;

    public torch.Tensor ContextLengthTensor(torch.Device device) =>
        _contextTensor ??= torch.tensor(ContextLengths, dtype: torch.int32, device: device).DetachFromDisposeScope();

    public torch.Tensor QueryStartTensor(torch.Device device) =>
        _queryStartTensor ??= torch.tensor(QueryStarts, dtype: torch.int32, device: device).DetachFromDisposeScope();

    public void Dispose()
    {
        _slotTensor?.Dispose();
        _blockTableTensor?.Dispose();
        _contextTensor?.Dispose();
        _queryStartTensor?.Dispose();
    }
}
