namespace LlmEngine.Scheduling.Blocks;

/// <summary>
/// A copy of the KV cache's bookkeeping at one moment, for observers (the dashboard's block map):
/// each device and host block's reference count, which device blocks hold cached prefix content,
/// and every sequence's block table (host block ids when swapped out). The counts beside them
/// are the manager's own running counters, not derived from the arrays.
/// </summary>
public sealed record BlockMap(
    int BlockSize,
    int[] DeviceRefCounts,
    bool[] DeviceCached,
    int[] HostRefCounts,
    IReadOnlyList<SequenceBlockTable> Tables,
    int FreeBlocks,
    int SharedBlocks,
    int UsedSwapBlocks);

/// <summary>One sequence's table: logical block j lives in physical block Blocks[j]
/// (<see cref="KvCacheManager.SlidOut"/> when it slid out of the window and was released).</summary>
public sealed record SequenceBlockTable(long SequenceId, bool Swapped, int[] Blocks);
