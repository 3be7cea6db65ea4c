using System.Collections.Concurrent;

namespace LlmEngine.Kernels.Structured;

/// <summary>
/// A compiled constraint bound to one vocabulary: it gives the start state, advances a state by a
/// token, and says which tokens a state allows, as a bit mask over the vocabulary.
/// <para>Masks are cheap because most of the work is per automaton state, done once, as xgrammar
/// does: for a stack whose top frame is at state s, a token whose bytes are consumed inside that
/// frame is allowed whatever lies below it (context-independent), one that dies inside it is
/// refused; only a token that runs past the end of the frame's rule must be checked against the
/// whole stack. So each state s gets, once, a bit set of the tokens it accepts and a short list
/// of the tokens that depend on context, found by one walk of the sorted vocabulary (the trie).
/// A state's final mask is then cached on the (interned) state itself.</para>
/// </summary>
public sealed class TokenGuide
{
    private readonly GrammarAutomaton _automaton;
    private readonly FrameTable _frames = new();
    private readonly ConcurrentDictionary<string, GuideState> _states = new();
    private readonly ConcurrentDictionary<int, TokenTable> _tables = new();
    private readonly GuideState _dead;

    public TokenGuide(GrammarAutomaton automaton, TokenVocabulary vocabulary)
    {
        _automaton = automaton;
        Vocabulary = vocabulary;
        _dead = Intern(new Closure.Result([], false, false));
        Initial = Intern(Closure.Of(automaton, _frames, [(automaton.Start, null)]));
    }

    public TokenVocabulary Vocabulary { get; }
    public GuideState Initial { get; }

    /// <summary>The state after <paramref name="token"/>; an end token or a token the state does
    /// not allow gives a dead state.</summary>
    public GuideState Advance(GuideState state, int token)
    {
        if ((uint)token >= (uint)Vocabulary.Size) return _dead;
        foreach (byte b in Vocabulary.Bytes[token])
        {
            state = Step(state, b);
            if (state.IsDead) return state;
        }
        return Vocabulary.Bytes[token].Length == 0 ? _dead : state;
    }

    /// <summary>The state after <paramref name="text"/>'s UTF-8 bytes (for tests and checks).</summary>
    public GuideState Advance(GuideState state, ReadOnlySpan<byte> text)
    {
        foreach (byte b in text)
        {
            state = Step(state, b);
            if (state.IsDead) break;
        }
        return state;
    }

    public bool Allows(GuideState state, int token) => (Mask(state)[token >> 6] >> (token & 63) & 1) != 0;

    /// <summary>Bit t of word t / 64 is set when token t may come next (end tokens when the
    /// constraint can end). Shared and cached: do not modify.</summary>
    public ulong[] Mask(GuideState state)
    {
        if (state.Mask is { } cached) return cached;
        var mask = new ulong[Vocabulary.MaskWords];
        foreach (var frame in state.Frames)
        {
            var table = _tables.GetOrAdd(frame.State, s => TokenTable.Build(this, Single(s)));
            for (int w = 0; w < mask.Length; w++) mask[w] |= table.Accepted[w];
            if (table.Uncertain.Length == 0) continue;
            var alone = Intern(new Closure.Result([frame], false, false));
            foreach (int t in table.Uncertain)
                if ((mask[t >> 6] >> (t & 63) & 1) == 0 && !Advance(alone, t).IsDead) mask[t >> 6] |= 1UL << (t & 63);
        }
        // A dead state (a token was forced past the constraint, e.g. a beam's last resort) can only end.
        if (state.CanEnd || state.IsDead)
            foreach (int t in Vocabulary.EndTokens) mask[t >> 6] |= 1UL << (t & 63);
        state.Mask = mask;
        return mask;
    }

    /// <summary>Automaton states and token tables built so far (for figures).</summary>
    public (int States, int Tables) Size => (_states.Count, _tables.Count);

    internal GuideState Step(GuideState state, byte b)
    {
        if (state.Next[b] is { } next) return next;
        var seeds = new List<(int, Frame?)>();
        foreach (var f in state.Frames)
            foreach (var (cls, target) in _automaton.ByteEdges[f.State])
                if (cls.Contains(b)) seeds.Add((target, f.Parent));
        next = seeds.Count == 0 ? _dead : Intern(Closure.Of(_automaton, _frames, seeds));
        state.Next[b] = next;
        return next;
    }

    // A stack of one frame at state s: its bottom ending is what "runs past the frame" means.
    private GuideState Single(int s) => Intern(new Closure.Result([_frames.Intern(s, null)], false, false));

    private GuideState Intern(Closure.Result r)
    {
        var state = new GuideState(r.Tops, r.Ended);
        return _states.GetOrAdd(state.Key, state);
    }
}
