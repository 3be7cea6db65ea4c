namespace LlmEngine.Scheduling.Blocks;

/// <summary>How the manager names a full block's content; <see cref="BlockHash.Of"/> unless a test swaps it.</summary>
internal delegate BlockHash BlockHasher(BlockHash parent, ReadOnlySpan<int> tokens);

/// <summary>Prefix caching: finding cached full blocks for a prompt, and registering new full ones.</summary>
public sealed partial class KvCacheManager
{
    /// <summary>Tokens asked about by <see cref="AllocatePrefix"/> while prefix caching is on.</summary>
    public long PrefixQueries { get; private set; }

    /// <summary>Of <see cref="PrefixQueries"/>, tokens found in cached blocks.</summary>
    public long PrefixHits { get; private set; }

    /// <summary>
    /// Leading tokens of <paramref name="tokens"/> held by cached full blocks: a multiple of B,
    /// at most tokens.Count - 1 so the last token is always computed (its logits are needed).
    /// No side effects; 0 when prefix caching is off.
    /// </summary>
    public int CachedPrefixLength(IReadOnlyList<int> tokens) =>
        MatchPrefix(tokens, hits: null, out _, out _) * BlockSize;

    /// <summary>
    /// Maps the cached prefix of <paramref name="tokens"/> into the empty table of a new (or
    /// recompute-preempted) sequence, reviving cached-free blocks, and returns the tokens now
    /// computed (see <see cref="CachedPrefixLength"/>). Takes no new block, so it cannot fail
    /// for lack of space; if the following <see cref="TryAllocateSlots"/> fails, undo with <see cref="Free"/>.
    /// With <paramref name="reuse"/> false nothing is looked up (the sequence computes every token;
    /// its blocks are still published for others once full).
    /// </summary>
    public int AllocatePrefix(long seqId, IReadOnlyList<int> tokens, bool reuse = true)
    {
        if (_seqs.TryGetValue(seqId, out var s) && (s.Swapped || s.Blocks.Count > 0))
            throw new InvalidOperationException($"sequence {seqId} already holds blocks");
        s ??= _seqs[seqId] = new SequenceBlocks();
        if (!PrefixCaching || !reuse) return 0;

        int matched = MatchPrefix(tokens, s.Blocks, out var hash, out long prefix);
        foreach (int block in s.Blocks) _device.Retain(block);
        s.NumHashed = matched;
        s.LastHash = hash;
        s.LastPrefix = prefix;
        PrefixQueries += tokens.Count;
        PrefixHits += matched * BlockSize;
        return matched * BlockSize;
    }

    /// <summary>
    /// Walks the hash chain block by block until the first miss; appends hit blocks to
    /// <paramref name="hits"/> and returns how many matched, with the last one's hash and prefix id.
    /// </summary>
    private int MatchPrefix(IReadOnlyList<int> tokens, List<int>? hits, out BlockHash hash, out long prefix)
    {
        hash = BlockHash.Root;
        prefix = BlockPool.RootPrefix;
        if (!PrefixCaching) return 0;
        int candidates = Math.Max(tokens.Count - 1, 0) / BlockSize;
        Span<int> chunk = stackalloc int[BlockSize];
        int n = 0;
        for (; n < candidates; n++)
        {
            for (int i = 0; i < BlockSize; i++) chunk[i] = tokens[n * BlockSize + i];
            var h = _hasher(hash, chunk);
            if (!_device.TryGetCached(h, prefix, chunk, out int block, out long p)) break;
            hits?.Add(block);
            hash = h;
            prefix = p;
        }
        return n;
    }

    /// <summary>Forgets every cached-free block's content (vLLM's reset_prefix_cache): after a part of
    /// the model's KV cache was lost, no cached prefix may be reused.</summary>
    public void ResetPrefixCache() => _device.ForgetFree();

    private readonly HashSet<long> _unwritten = new();

    // Blocks that this step fills are registered only once the step has written their K/V: a
    // step that fails would otherwise leave cached blocks of garbage for the next same prompt.
    private void HoldFullBlocks(long seqId, SequenceBlocks s, IReadOnlyList<int> tokens, int fullBlocks)
    {
        if (fullBlocks <= s.NumHashed) return;
        var held = new int[fullBlocks * BlockSize];
        for (int i = s.NumHashed * BlockSize; i < held.Length; i++) held[i] = tokens[i];
        s.Unwritten = held;
        _unwritten.Add(seqId);
    }

    /// <summary>The last allocation's steps ran: their newly full blocks hold their K/V now and
    /// become visible to prefix matching.</summary>
    public void PublishWritten()
    {
        foreach (long id in _unwritten)
            if (_seqs.TryGetValue(id, out var s) && s.Unwritten is { } tokens && !s.Swapped)
                HashFullBlocks(s, tokens, tokens.Length / BlockSize);
        DiscardUnwritten();
    }

    /// <summary>The last allocation's step failed: what it would have written is never cached.</summary>
    public void DiscardUnwritten()
    {
        foreach (long id in _unwritten)
            if (_seqs.TryGetValue(id, out var s)) s.Unwritten = null;
        _unwritten.Clear();
    }

    /// <summary>
    /// Hashes blocks NumHashed..fullBlocks-1 of the table, which <paramref name="tokens"/> now
    /// fill. A block whose content is already cached elsewhere adopts that prefix id (the
    /// contents are equal, so descendants may chain from either) and is not registered;
    /// duplicates are left alone rather than merged.
    /// <code>
    ///   table    [h0 registered][h1 registered][full now][full now][partial]
    ///   NumHashed = 2 ------------------------^  hash these two   (never hashed)
    /// </code>
    /// </summary>
    private void HashFullBlocks(SequenceBlocks s, IReadOnlyList<int> tokens, int fullBlocks)
    {
        for (int j = s.NumHashed; j < fullBlocks; j++)
        {
            var chunk = new int[BlockSize];
            for (int i = 0; i < BlockSize; i++) chunk[i] = tokens[j * BlockSize + i];
            var hash = _hasher(s.LastHash, chunk);
            if (!_device.TryGetCached(hash, s.LastPrefix, chunk, out _, out long prefix))
                prefix = _device.Register(s.Blocks[j], hash, s.LastPrefix, chunk);
            s.LastHash = hash;
            s.LastPrefix = prefix;
            s.NumHashed = j + 1;
        }
    }
}
