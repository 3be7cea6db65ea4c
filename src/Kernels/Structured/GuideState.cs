namespace LlmEngine.Kernels.Structured;

/// <summary>
/// Where a constrained generation stands: the set of automaton stacks still alive after the
/// bytes so far, and whether the constraint may end here. Immutable and interned per guide, so a
/// fork (parallel samples, beams) shares it, preemption keeps it, and the byte transitions and
/// token mask computed for it once serve every sequence that reaches it (a lazily built DFA).
/// </summary>
public sealed class GuideState
{
    internal GuideState(Frame[] frames, bool canEnd)
    {
        Frames = frames;
        CanEnd = canEnd;
    }

    internal Frame[] Frames { get; }
    internal readonly GuideState?[] Next = new GuideState?[256];
    internal ulong[]? Mask;

    /// <summary>The constraint is satisfied by the text so far (end-of-sequence is allowed).</summary>
    public bool CanEnd { get; }
    /// <summary>Nothing can follow: the only token left is end-of-sequence.</summary>
    public bool IsComplete => Frames.Length == 0 && CanEnd;
    /// <summary>The text so far cannot be completed (no token is allowed).</summary>
    public bool IsDead => Frames.Length == 0 && !CanEnd;

    internal string Key => (CanEnd ? "!" : "") + string.Join(',', Frames.Select(f => f.Id));
}
