using System.Collections.Concurrent;

namespace LlmEngine.Kernels.Structured;

/// <summary>One stack of the pushdown automaton, as an immutable linked list: the top frame's
/// state is where matching stands, each parent's state is where to go when the rule below
/// ends. Frames are interned, so equal stacks are the same object and share their suffix.</summary>
internal sealed class Frame(int id, int state, Frame? parent)
{
    public int Id { get; } = id;
    public int State { get; } = state;
    public Frame? Parent { get; } = parent;
    public int Depth { get; } = (parent?.Depth ?? 0) + 1;
}

/// <summary>The interning table of one automaton's frames.</summary>
internal sealed class FrameTable
{
    private readonly ConcurrentDictionary<(int State, int Parent), Frame> _frames = new();
    private int _next;

    public Frame Intern(int state, Frame? parent) =>
        _frames.GetOrAdd((state, parent?.Id ?? 0), key => new Frame(Interlocked.Increment(ref _next), key.State, parent));
}

/// <summary>
/// Expands positions (a state on a stack) until every one stands before a byte: epsilon edges
/// are followed, calls push their return state (not when it is a bare rule end: a tail call, so
/// right recursion and loops do not grow the stack), a rule's end pops. Popping the bottom frame
/// means the bottom rule can end here (<see cref="Result.Ended"/>).
/// </summary>
internal static class Closure
{
    /// <summary>Deeper stacks are dropped (at compile time: the grammar is left-recursive).</summary>
    public const int MaxDepth = 1000;

    public readonly record struct Result(Frame[] Tops, bool Ended, bool Overflow);

    public static Result Of(GrammarAutomaton a, FrameTable frames, IEnumerable<(int State, Frame? Parent)> seeds)
    {
        var visited = new HashSet<(int, int)>();
        var tops = new List<Frame>();
        bool ended = false, overflow = false;
        var work = new Stack<(int State, Frame? Parent)>(seeds);
        while (work.Count > 0)
        {
            var (s, p) = work.Pop();
            if (!visited.Add((s, p?.Id ?? 0))) continue;
            if (a.ByteEdges[s].Length > 0) tops.Add(frames.Intern(s, p));
            foreach (int e in a.Epsilon[s]) work.Push((e, p));
            foreach (var (start, ret) in a.Calls[s])
            {
                var pushed = a.IsPureFinal[ret] ? p : frames.Intern(ret, p);
                if (pushed is not null && pushed.Depth > MaxDepth) { overflow = true; continue; }
                work.Push((start, pushed));
            }
            if (a.IsFinal[s])
            {
                if (p is null) ended = true;
                else work.Push((p.State, p.Parent));
            }
        }
        tops.Sort((x, y) => x.Id.CompareTo(y.Id));
        return new Result(tops.ToArray(), ended, overflow);
    }
}
