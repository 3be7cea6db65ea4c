namespace LlmEngine.Scheduling.Blocks;

/// <summary>
/// The free blocks of a pool in LRU order, as a doubly linked list threaded through two
/// arrays indexed by block id: push at the tail, pop at the head, and unlink any block in
/// O(1) (a cached-free block revived by a prefix hit leaves from the middle).
/// <code>
///   head -> [7] <-> [2] <-> [9] <- tail      prev/next hold ids; None ends the list
///   least recently freed      most recently freed
/// </code>
/// </summary>
internal sealed class FreeBlockQueue
{
    private const int None = -1;
    private readonly int[] _prev;
    private readonly int[] _next;
    private readonly bool[] _queued;
    private int _head = None;
    private int _tail = None;

    /// <summary>A queue holding every block, in id order.</summary>
    public FreeBlockQueue(int numBlocks)
    {
        _prev = new int[numBlocks];
        _next = new int[numBlocks];
        _queued = new bool[numBlocks];
        for (int b = 0; b < numBlocks; b++) PushBack(b);
    }

    public int Count { get; private set; }

    public bool Contains(int block) => _queued[block];

    public void PushBack(int block)
    {
        if (_queued[block]) throw new InvalidOperationException($"block {block} is already free");
        _prev[block] = _tail;
        _next[block] = None;
        if (_tail == None) _head = block; else _next[_tail] = block;
        _tail = block;
        _queued[block] = true;
        Count++;
    }

    public int PopFront()
    {
        if (_head == None) throw new InvalidOperationException("no free block");
        int block = _head;
        Remove(block);
        return block;
    }

    public void Remove(int block)
    {
        if (!_queued[block]) throw new InvalidOperationException($"block {block} is not free");
        int prev = _prev[block], next = _next[block];
        if (prev == None) _head = next; else _next[prev] = next;
        if (next == None) _tail = prev; else _prev[next] = prev;
        _queued[block] = false;
        Count--;
    }

    /// <summary>Walks head to tail; stops after Count steps so a broken link cannot loop forever.</summary>
    public IEnumerable<int> InOrder()
    {
        int block = _head;
        for (int i = 0; i < Count && block != None; i++, block = _next[block])
            yield return block;
    }
}
