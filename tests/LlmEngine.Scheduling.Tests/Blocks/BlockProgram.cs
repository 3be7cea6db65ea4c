using LlmEngine.Scheduling.Blocks;

namespace LlmEngine.Scheduling.Tests.Blocks;

/// <summary>One random step of a <see cref="BlockProgram"/>: Kind picks the operation, A and B its arguments.</summary>
public readonly record struct BlockOp(int Kind, int A, int B);

/// <summary>
/// Plays a random program against a <see cref="KvCacheManager"/> the way a scheduler and the
/// cache kernels would, with a shadow KV cache: each slot holds a fingerprint of the prefix
/// whose last token was written there. After every step each computed position of each
/// running sequence must read its own prefix's fingerprint, which checks slots, copy-on-write,
/// prefix hits and swaps end to end, beyond the manager's own invariant check.
/// </summary>
internal sealed class BlockProgram
{
    private sealed class Seq
    {
        public List<int> Tokens { get; init; } = [];
        public List<ulong> Prints { get; init; } = [];
        public int Computed { get; set; }
        public long Group { get; init; }
        public bool Swapped { get; set; }

        public void Append(int token)
        {
            ulong h = (Prints.Count == 0 ? 0x243F6A8885A308D3UL : Prints[^1]) ^ ((uint)token + 0x9E3779B97F4A7C15UL);
            h *= 0xBF58476D1CE4E5B9UL;
            Tokens.Add(token);
            Prints.Add(h ^ (h >> 31));
        }
    }

    private readonly KvCacheManager _m;
    private readonly int _b;
    private readonly ulong[] _device;
    private readonly ulong[] _host;
    private readonly SortedDictionary<long, Seq> _seqs = new();
    private long _nextId = 1;

    public BlockProgram(int blockSize, int numBlocks, int numSwapBlocks, bool prefixCaching)
    {
        _m = new KvCacheManager(numBlocks, blockSize, prefixCaching, numSwapBlocks);
        _b = blockSize;
        _device = new ulong[numBlocks * blockSize];
        _host = new ulong[numSwapBlocks * blockSize];
    }

    /// <summary>Runs every op, verifying after each; then frees everything and checks all blocks came back.</summary>
    public void Run(IEnumerable<BlockOp> ops)
    {
        foreach (var op in ops)
        {
            Apply(op);
            Verify();
        }
        foreach (long id in _seqs.Keys.ToList()) _m.Free(id);
        _m.CheckInvariants();
        Assert.Equal((_m.NumTotalBlocks, _m.NumSwapBlocks), (_m.NumFreeBlocks, _m.NumFreeSwapBlocks));
    }

    private void Apply(BlockOp op)
    {
        var running = _seqs.Where(kv => !kv.Value.Swapped).Select(kv => kv.Key).ToList();
        var swapped = _seqs.Where(kv => kv.Value.Swapped).Select(kv => kv.Key).ToList();
        switch (op.Kind % 12)
        {
            case 0 or 1: Start(op.A, op.B); break;
            case 2 or 3 or 4 or 5 or 11 when running.Count > 0: Advance(running[op.A % running.Count], op.B); break;
            case 6 when running.Count > 0 && _seqs.Count < 12: Fork(running[op.A % running.Count]); break;
            case 7 when _seqs.Count > 0: Free(_seqs.Keys.ElementAt(op.A % _seqs.Count)); break;
            case 8 when running.Count > 0: SwapOut(Group(running[op.A % running.Count])); break;
            case 9 when swapped.Count > 0: SwapIn(Group(swapped[op.A % swapped.Count])); break;
            case 10 when running.Count > 0: Recompute(Group(running[op.A % running.Count])); break;
        }
    }

    /// <summary>A prompt with a head shared by all prompts (so prefixes hit) and a tail of its own.</summary>
    private void Start(int a, int b)
    {
        int length = 1 + a % (3 * _b + 2);
        int shared = b % (length + 1);
        var s = new Seq { Group = _nextId };
        for (int i = 0; i < length; i++) s.Append(i < shared ? i * 31 % 7 : 1000 + (b + i) % 3);
        long id = _nextId++;
        _seqs[id] = s;
        Admit(id, chunk: 1 + b % (2 * _b));
    }

    /// <summary>Maps the cached prefix (checking it holds this prompt's KV), then computes a first chunk.</summary>
    private void Admit(long id, int chunk)
    {
        var s = _seqs[id];
        s.Computed = _m.AllocatePrefix(id, s.Tokens);
        Assert.True(s.Computed % _b == 0 && s.Computed <= s.Tokens.Count - 1, $"prefix {s.Computed} of {s.Tokens.Count}");
        for (int p = 0; p < s.Computed; p++) Assert.Equal(s.Prints[p], _device[_m.Slot(id, p)]);
        if (!Step(id, Math.Min(chunk, s.Tokens.Count - s.Computed))) Free(id);
    }

    /// <summary>The next prefill chunk, or one decoded token once the prompt is done.</summary>
    private void Advance(long id, int b)
    {
        var s = _seqs[id];
        bool decode = s.Computed == s.Tokens.Count;
        if (decode) s.Append(b % 3);
        int n = decode ? 1 : Math.Min(s.Tokens.Count - s.Computed, 1 + b % (_b + 2));
        if (!Step(id, n) && decode)
        {
            s.Tokens.RemoveAt(s.Tokens.Count - 1);
            s.Prints.RemoveAt(s.Prints.Count - 1);
        }
    }

    /// <summary>One scheduler step for one sequence: allocate, make the copies, write the new K/V.</summary>
    private bool Step(long id, int n)
    {
        var s = _seqs[id];
        bool predicted = _m.CanAllocate(id, s.Computed, n);
        int freeBefore = _m.NumFreeBlocks;
        var tableBefore = _m.BlockTable(id).ToArray();
        var copies = new List<(int Src, int Dst)>();
        bool ok = _m.TryAllocateSlots(id, s.Tokens, s.Computed, n, copies);
        Assert.Equal(predicted, ok);
        if (!ok)
        {
            Assert.Equal((freeBefore, 0), (_m.NumFreeBlocks, copies.Count));
            Assert.Equal(tableBefore, _m.BlockTable(id));
            return false;
        }
        foreach (var (src, dst) in copies) Array.Copy(_device, src * _b, _device, dst * _b, _b);
        for (int p = s.Computed; p < s.Computed + n; p++) _device[_m.Slot(id, p)] = s.Prints[p];
        _m.PublishWritten();
        s.Computed += n;
        return true;
    }

    private void Fork(long parent)
    {
        var p = _seqs[parent];
        long child = _nextId++;
        _m.Fork(parent, child);
        _seqs[child] = new Seq { Tokens = [.. p.Tokens], Prints = [.. p.Prints], Computed = p.Computed, Group = p.Group };
    }

    private void Free(long id)
    {
        _m.Free(id);
        _seqs.Remove(id);
    }

    private void SwapOut(List<long> group)
    {
        if (!_m.CanSwapOut(group)) return;
        foreach (var (device, host) in _m.SwapOut(group)) Array.Copy(_device, device * _b, _host, host * _b, _b);
        foreach (long id in group) _seqs[id].Swapped = true;
    }

    private void SwapIn(List<long> group)
    {
        if (!_m.CanSwapIn(group)) return;
        foreach (var (host, device) in _m.SwapIn(group)) Array.Copy(_host, host * _b, _device, device * _b, _b);
        foreach (long id in group) _seqs[id].Swapped = false;
    }

    /// <summary>Recompute preemption: drop the group's blocks, then admit each member again from its tokens.</summary>
    private void Recompute(List<long> group)
    {
        foreach (long id in group) _m.Free(id);
        foreach (long id in group) Admit(id, chunk: _seqs[id].Tokens.Count);
    }

    private List<long> Group(long id) => _seqs.Where(kv => kv.Value.Group == _seqs[id].Group).Select(kv => kv.Key).ToList();

    private void Verify()
    {
        _m.CheckInvariants();
        var counts = new Dictionary<long, int>();
        foreach (var (id, s) in _seqs.Where(kv => !kv.Value.Swapped))
        {
            Assert.Equal(_m.IsSwapped(id), s.Swapped);
            Assert.Equal(BlockBudget.BlocksFor(s.Computed, _b), _m.BlockTable(id).Count);
            for (int p = 0; p < s.Computed; p++) Assert.Equal(s.Prints[p], _device[_m.Slot(id, p)]);
            counts[id] = s.Computed;
        }
        long waste = _m.WastedSlots(counts);
        Assert.InRange(waste, 0, (long)(_b - 1) * counts.Count);
    }
}
