namespace LlmEngine.Scheduling.Blocks;

/// <summary>
/// Per-sequence block tables over a device <see cref="BlockPool"/> of block size B, with
/// optional prefix caching and a host swap pool (vLLM's KV-cache manager). Plain state, no
/// threads: the scheduler owns one and calls it in order.
/// <para>
/// A table covers positions [0, Blocks.Count * B); position p lives in slot
/// table[p / B] * B + p % B. Blocks are taken only as tokens need slots, so a sequence
/// holds at most one partly filled block.
/// </para>
/// <para>
/// With a sliding window on every layer (<see cref="SlidingWindow"/>), the blocks behind the
/// window are released as a sequence moves on and their entries become <see cref="SlidOut"/>: a
/// long sequence holds about W / B + 1 blocks. The kernels never read a key before the window, so
/// the worker may keep any id in those entries.
/// </para>
/// </summary>
public sealed partial class KvCacheManager
{
    private readonly BlockPool _device;
    private readonly BlockPool _host;
    private readonly BlockHasher _hasher;
    private readonly Dictionary<long, SequenceBlocks> _seqs = new();

    /// <summary>A table entry whose block slid out of the window and was released.</summary>
    public const int SlidOut = -1;

    /// <param name="slidingWindow">the window every layer of the model has (0: none, or not on every layer)</param>
    public KvCacheManager(int numBlocks, int blockSize, bool prefixCaching, int numSwapBlocks = 0, int slidingWindow = 0)
        : this(numBlocks, blockSize, prefixCaching, numSwapBlocks, (parent, tokens) => BlockHash.Of(parent, tokens), slidingWindow)
    {
    }

    /// <summary>Tests pass a colliding <paramref name="hasher"/> to show collisions are only misses.</summary>
    internal KvCacheManager(int numBlocks, int blockSize, bool prefixCaching, int numSwapBlocks, BlockHasher hasher, int slidingWindow = 0)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(blockSize, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(blockSize, 32);
        ArgumentOutOfRangeException.ThrowIfNegative(slidingWindow);
        BlockSize = blockSize;
        PrefixCaching = prefixCaching;
        SlidingWindowSize = slidingWindow;
        _device = new BlockPool(numBlocks) { Events = KvEvents };
        _host = new BlockPool(numSwapBlocks);
        _hasher = hasher;
    }

    public int BlockSize { get; }

    /// <summary>The window behind which blocks are released (0: none).</summary>
    public int SlidingWindowSize { get; }

    /// <summary>The device cache's KV events (block hashes stored and evicted), for a cluster's routers.</summary>
    public KvEventLog KvEvents { get; } = new();
    public bool PrefixCaching { get; }
    public int NumTotalBlocks => _device.NumBlocks;

    /// <summary>Device blocks free to allocate, cached-free ones included.</summary>
    public int NumFreeBlocks => _device.NumFree;

    /// <summary>Share of device blocks not free, 0..1.</summary>
    public double Usage => NumTotalBlocks == 0 ? 0 : 1.0 - (double)NumFreeBlocks / NumTotalBlocks;

    /// <summary>References to device block <paramref name="block"/>: table entries pointing at it.</summary>
    public int RefCount(int block) => _device.RefCount(block);

    public int NumSwapBlocks => _host.NumBlocks;
    public int NumFreeSwapBlocks => _host.NumFree;

    /// <summary>
    /// Whether <see cref="TryAllocateSlots"/> with the same numbers would succeed: new blocks
    /// plus copy-on-write copies fit in the free blocks. An unknown id has an empty table.
    /// </summary>
    public bool CanAllocate(long seqId, int numComputed, int numNewTokens)
    {
        _seqs.TryGetValue(seqId, out var s);
        var table = s?.Blocks ?? new List<int>();
        Validate(seqId, s, table, numComputed, numNewTokens);
        int released = s is null ? 0 : BehindWindow(s, numComputed).Count(j => _device.RefCount(s.Blocks[j]) == 1);
        return BlocksToTake(table, numComputed, numNewTokens) <= _device.NumFree + released;
    }

    /// <summary>
    /// Makes the table cover [0, numComputed + numNewTokens) so every new token has a slot.
    /// Existing blocks the new tokens write into that are shared are copied first (each
    /// (old, new) pair is appended to <paramref name="copies"/> for the cache kernels); with
    /// prefix caching every block that becomes full is hashed and registered once the step has
    /// written its K/V (<see cref="PublishWritten"/>). All or nothing, except that blocks behind
    /// the sliding window are released either way (nothing will read them again); false leaves
    /// everything else as it was. <paramref name="tokens"/> must hold at least
    /// numComputed + numNewTokens ids.
    /// <code>
    ///   B = 4, numComputed = 6, numNewTokens = 5: cover [0, 11)
    ///   before  [b0: 0..3][b1: 4 5 . .]            b1 shared with a fork
    ///   after   [b0: 0..3][b1': 4 5 6 7][b2: 8 9 10 .]   copies += (b1, b1')
    ///   b1' is full now: registered with parent b0's prefix
    /// </code>
    /// </summary>
    public bool TryAllocateSlots(long seqId, IReadOnlyList<int> tokens, int numComputed, int numNewTokens, List<(int Src, int Dst)> copies)
    {
        _seqs.TryGetValue(seqId, out var s);
        var table = s?.Blocks ?? new List<int>();
        Validate(seqId, s, table, numComputed, numNewTokens);
        int end = numComputed + numNewTokens;
        if (tokens.Count < end) throw new ArgumentException($"{tokens.Count} tokens cannot fill {end} positions", nameof(tokens));
        if (s is not null) ReleaseBehindWindow(s, numComputed);
        if (BlocksToTake(table, numComputed, numNewTokens) > _device.NumFree) return false;

        if (s is null) _seqs[seqId] = s = new SequenceBlocks { Blocks = table };
        for (int j = numComputed / BlockSize; j < Math.Min(table.Count, BlockBudget.BlocksFor(end, BlockSize)); j++)
        {
            int old = table[j];
            if (_device.RefCount(old) == 1) continue;
            int fresh = _device.Allocate();
            copies.Add((old, fresh));
            _device.Release(old);
            table[j] = fresh;
        }
        while (table.Count < BlockBudget.BlocksFor(end, BlockSize)) table.Add(_device.Allocate());
        if (PrefixCaching) HoldFullBlocks(seqId, s, tokens, end / BlockSize);
        return true;
    }

    /// <summary>Where position <paramref name="position"/> of a device-resident sequence lives.</summary>
    public long Slot(long seqId, int position)
    {
        var table = DeviceTable(seqId);
        if ((uint)position >= (uint)(table.Count * BlockSize) || table[position / BlockSize] == SlidOut)
            throw new ArgumentOutOfRangeException(nameof(position), $"sequence {seqId} has no slot for position {position}");
        return (long)table[position / BlockSize] * BlockSize + position % BlockSize;
    }

    /// <summary>The device block ids of a device-resident sequence: a live read-only view.</summary>
    public IReadOnlyList<int> BlockTable(long seqId) => DeviceTable(seqId).AsReadOnly();

    /// <summary>The child shares all the parent's blocks (parallel sampling, beam search); writes copy.</summary>
    public void Fork(long parentSeqId, long childSeqId)
    {
        var parent = Get(parentSeqId);
        if (parent.Swapped) throw new InvalidOperationException($"sequence {parentSeqId} is swapped out");
        if (_seqs.TryGetValue(childSeqId, out var existing) && existing.Blocks.Count > 0)
            throw new InvalidOperationException($"sequence {childSeqId} already holds blocks");
        var child = parent.Clone();
        foreach (int block in child.Blocks)
            if (block != SlidOut) _device.Retain(block);
        _seqs[childSeqId] = child;
    }

    /// <summary>
    /// Releases every block of the sequence, tail first: the tail's cached content is the
    /// least likely to be shared again, so it should be the first evicted. Unknown ids are a no-op.
    /// </summary>
    public void Free(long seqId)
    {
        if (!_seqs.Remove(seqId, out var s)) return;
        var pool = s.Swapped ? _host : _device;
        for (int j = s.Blocks.Count - 1; j >= s.NumSlidOut; j--) pool.Release(s.Blocks[j]);
    }

    /// <summary>Table entries behind the window of the token at <paramref name="numComputed"/> still
    /// holding a block. With prefix caching only hashed blocks go: one not yet registered (its step
    /// failed) would be registered from the table later.</summary>
    private IEnumerable<int> BehindWindow(SequenceBlocks s, int numComputed)
    {
        int behind = Math.Min(SlidingWindow.BlocksBehind(SlidingWindowSize, BlockSize, numComputed), s.Blocks.Count);
        if (PrefixCaching) behind = Math.Min(behind, s.NumHashed);
        return Enumerable.Range(s.NumSlidOut, Math.Max(0, behind - s.NumSlidOut));
    }

    private void ReleaseBehindWindow(SequenceBlocks s, int numComputed)
    {
        foreach (int j in BehindWindow(s, numComputed).ToList())
        {
            _device.Release(s.Blocks[j]);
            s.Blocks[j] = SlidOut;
            s.NumSlidOut = j + 1;
        }
    }

    /// <summary>New blocks to cover the range plus copies of shared blocks it writes into.</summary>
    private int BlocksToTake(List<int> table, int numComputed, int numNewTokens)
    {
        int end = numComputed + numNewTokens;
        int covered = BlockBudget.BlocksFor(end, BlockSize);
        int copies = 0;
        for (int j = numComputed / BlockSize; j < Math.Min(table.Count, covered); j++)
            if (_device.RefCount(table[j]) > 1) copies++;
        return Math.Max(0, covered - table.Count) + copies;
    }

    private void Validate(long seqId, SequenceBlocks? s, List<int> table, int numComputed, int numNewTokens)
    {
        if (s is { Swapped: true }) throw new InvalidOperationException($"sequence {seqId} is swapped out; swap it in first");
        ArgumentOutOfRangeException.ThrowIfNegative(numNewTokens);
        if (numComputed < 0 || numComputed > table.Count * BlockSize)
            throw new ArgumentOutOfRangeException(nameof(numComputed), $"sequence {seqId}: {numComputed} computed tokens but its table covers {table.Count * BlockSize}");
    }

    private SequenceBlocks Get(long seqId) =>
        _seqs.TryGetValue(seqId, out var s) ? s : throw new KeyNotFoundException($"sequence {seqId} has no block table");

    private List<int> DeviceTable(long seqId)
    {
        var s = Get(seqId);
        return s.Swapped ? throw new InvalidOperationException($"sequence {seqId} is swapped out") : s.Blocks;
    }
}
