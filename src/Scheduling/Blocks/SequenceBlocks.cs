namespace LlmEngine.Scheduling.Blocks;

/// <summary>
/// One sequence's block table and how far its prefix hashes have got. While swapped the
/// table holds host block ids. The hash state lets a block that becomes full be registered
/// without rehashing the whole prefix: its parent is always the previous hashed block.
/// </summary>
internal sealed class SequenceBlocks
{
    public List<int> Blocks { get; init; } = new();
    public bool Swapped { get; set; }

    /// <summary>Leading entries released behind the sliding window (<see cref="KvCacheManager.SlidOut"/>).</summary>
    public int NumSlidOut { get; set; }

    /// <summary>Leading full blocks whose hash and prefix id are known (registered or adopted).</summary>
    public int NumHashed { get; set; }
    public BlockHash LastHash { get; set; } = BlockHash.Root;
    public long LastPrefix { get; set; } = BlockPool.RootPrefix;

    /// <summary>The tokens of blocks this step fills (earlier positions unset), registered once
    /// the step has written them; null when none is waiting.</summary>
    public int[]? Unwritten { get; set; }

    public SequenceBlocks Clone() => new()
    {
        Blocks = new List<int>(Blocks),
        Swapped = Swapped,
        NumSlidOut = NumSlidOut,
        NumHashed = NumHashed,
        LastHash = LastHash,
        LastPrefix = LastPrefix,
    };
}
