namespace LlmEngine.Scheduling.Blocks;

/// <summary>
/// Physical blocks 0..N-1 of one cache: reference counts, an LRU free queue and a prefix
/// cache over full blocks (vLLM's block pool). A block whose count falls to 0 goes to the
/// free-queue tail but keeps its cached content, so a later prefix hit can revive it;
/// <see cref="Allocate"/> takes the head (least recently freed) and only then forgets
/// whatever the block cached.
/// <para>
/// Cache entries are keyed by <see cref="BlockHash"/> and verified by the block's tokens and
/// its parent's prefix id. Prefix ids are serial numbers never reused, one per distinct
/// prefix content, so unlike a parent hash they cannot collide: a hit guarantees the block's
/// whole prefix equals the caller's, whatever the hash function does.
/// </para>
/// </summary>
public sealed class BlockPool
{
    /// <summary>The prefix id of the empty prefix: the parent of block 0.</summary>
    public const long RootPrefix = 0;

    private readonly int[] _refCounts;
    private readonly FreeBlockQueue _free;
    private readonly CacheEntry?[] _entries;
    private readonly Dictionary<BlockHash, int> _byHash = new();
    private long _lastPrefix = RootPrefix;
    private int _shared;

    private sealed record CacheEntry(BlockHash Hash, long Parent, long Prefix, int[] Tokens);

    public BlockPool(int numBlocks)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(numBlocks);
        _refCounts = new int[numBlocks];
        _free = new FreeBlockQueue(numBlocks);
        _entries = new CacheEntry?[numBlocks];
    }

    public int NumBlocks => _refCounts.Length;

    /// <summary>Where cache entries made and forgotten are told (a cluster's KV events); none by default.</summary>
    public KvEventLog? Events { get; init; }

    /// <summary>Free blocks, cached-free ones included: all can be allocated.</summary>
    public int NumFree => _free.Count;

    /// <summary>Blocks findable by <see cref="TryGetCached"/>, in use or cached-free.</summary>
    public int NumCached => _byHash.Count;

    public int RefCount(int block) => _refCounts[block];

    /// <summary>Blocks with more than one reference, counted as references change (not by a scan).</summary>
    public int NumShared => _shared;

    /// <summary>Cached contents forgotten because their free block was allocated again.</summary>
    public long NumEvicted { get; private set; }

    /// <summary>Whether the block holds a registered full block's content (a free one is evictable).</summary>
    public bool IsCached(int block) => _entries[block] is not null;

    /// <summary>Takes the least recently freed block, evicting its cache entry; refcount 1.</summary>
    public int Allocate()
    {
        if (_free.Count == 0) throw new InvalidOperationException("block pool exhausted");
        int block = _free.PopFront();
        if (_entries[block] is { } entry)
        {
            _byHash.Remove(entry.Hash);
            _entries[block] = null;
            NumEvicted++;
            Events?.Evicted(entry.Hash);
        }
        _refCounts[block] = 1;
        return block;
    }

    /// <summary>One more reference; a cached-free block leaves the free queue (revival).</summary>
    public void Retain(int block)
    {
        if (_refCounts[block] == 0)
        {
            if (_entries[block] is null) throw new InvalidOperationException($"block {block} is free and caches nothing; allocate instead");
            _free.Remove(block);
        }
        if (++_refCounts[block] == 2) _shared++;
    }

    /// <summary>One reference fewer; at 0 the block joins the free-queue tail, still cached.</summary>
    public void Release(int block)
    {
        if (_refCounts[block] == 0) throw new InvalidOperationException($"block {block} released while free");
        if (--_refCounts[block] == 0) _free.PushBack(block);
        else if (_refCounts[block] == 1) _shared--;
    }

    /// <summary>
    /// Finds a block holding exactly <paramref name="tokens"/> after the prefix named
    /// <paramref name="parentPrefix"/>; on a hit <paramref name="prefix"/> names the prefix
    /// that ends with this block. A hash collision is a miss. No side effects.
    /// </summary>
    public bool TryGetCached(BlockHash hash, long parentPrefix, ReadOnlySpan<int> tokens, out int block, out long prefix)
    {
        if (_byHash.TryGetValue(hash, out block)
            && _entries[block] is { } entry
            && entry.Parent == parentPrefix
            && tokens.SequenceEqual(entry.Tokens))
        {
            prefix = entry.Prefix;
            return true;
        }
        block = -1;
        prefix = RootPrefix;
        return false;
    }

    /// <summary>
    /// Records that held block <paramref name="block"/> is full with <paramref name="tokens"/>
    /// (kept, not copied) after <paramref name="parentPrefix"/>, and returns a new prefix id for
    /// its content. If another block already holds the hash, that one stays the cached copy and
    /// this block is not findable (the first holder keeps a hash); the id is still unique.
    /// </summary>
    public long Register(int block, BlockHash hash, long parentPrefix, int[] tokens)
    {
        if (_refCounts[block] == 0) throw new InvalidOperationException($"block {block} registered while free");
        if (_entries[block] is not null) throw new InvalidOperationException($"block {block} is already registered");
        long prefix = ++_lastPrefix;
        if (_byHash.TryAdd(hash, block))
        {
            _entries[block] = new CacheEntry(hash, parentPrefix, prefix, tokens);
            Events?.Stored(hash);
        }
        return prefix;
    }

    /// <summary>Forgets the content of every cached-free block (they stay free): their K/V can no
    /// longer be trusted, as when a pipeline stage's cache was lost and reloaded empty.</summary>
    public void ForgetFree()
    {
        foreach (int block in _free.InOrder().ToList())
        {
            if (_entries[block] is not { } entry) continue;
            _byHash.Remove(entry.Hash);
            _entries[block] = null;
            Events?.Evicted(entry.Hash);
        }
    }

    /// <summary>Free blocks from least to most recently freed: the order Allocate takes them.</summary>
    public IEnumerable<int> FreeOrder() => _free.InOrder();

    /// <summary>
    /// Throws unless each block's refcount equals <paramref name="references"/>[block] (the
    /// table entries pointing at it), exactly the zero-count blocks are queued, each once, every
    /// cache entry is reachable by its own hash and holds <paramref name="blockSize"/> tokens, and
    /// the running count of shared blocks is right.
    /// </summary>
    internal void CheckInvariants(ReadOnlySpan<int> references, int blockSize, string name)
    {
        for (int b = 0; b < NumBlocks; b++)
        {
            if (_refCounts[b] != references[b])
                throw new InvalidOperationException($"{name} block {b}: refcount {_refCounts[b]} but {references[b]} table entries");
            if ((_refCounts[b] == 0) != _free.Contains(b))
                throw new InvalidOperationException($"{name} block {b}: refcount {_refCounts[b]} but {(_free.Contains(b) ? "" : "not ")}in the free queue");
            if (_entries[b] is { } e && (!_byHash.TryGetValue(e.Hash, out int owner) || owner != b || e.Tokens.Length != blockSize))
                throw new InvalidOperationException($"{name} block {b}: cache entry {e.Hash} is not its hash's owner or holds {e.Tokens.Length} tokens");
        }
        var seen = new bool[NumBlocks];
        int walked = 0;
        foreach (int b in _free.InOrder())
        {
            if (seen[b]) throw new InvalidOperationException($"{name} block {b}: in the free queue twice");
            seen[b] = true;
            walked++;
        }
        if (walked != _free.Count)
            throw new InvalidOperationException($"{name} free queue: {walked} linked blocks but count {_free.Count}");
        foreach (var (hash, b) in _byHash)
            if (_entries[b]?.Hash != hash)
                throw new InvalidOperationException($"{name} hash {hash} points at block {b}, which does not cache it");
        int shared = _refCounts.Count(r => r > 1);
        if (shared != _shared)
            throw new InvalidOperationException($"{name} pool: {shared} blocks have refcount > 1 but the shared count says {_shared}");
    }
}
