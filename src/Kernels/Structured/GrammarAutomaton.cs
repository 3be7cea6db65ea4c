namespace LlmEngine.Kernels.Structured;

/// <summary>
/// A grammar compiled to one byte-level NFA per rule, joined by call edges (a pushdown
/// automaton): a state has byte edges, epsilon edges, calls (enter a rule, come back to a return
/// state) and may be its rule's end. Repetition is a loop inside the rule, not a new rule, so a
/// JSON string or number lies inside one rule's frame: that is what makes most tokens'
/// acceptance context-independent (see <see cref="TokenGuide"/>).
/// </summary>
public sealed class GrammarAutomaton
{
    /// <summary>Above this many states a constraint is refused (it would cost too much to index).</summary>
    public const int MaxStates = 200_000;

    private readonly List<List<(ByteClass Class, int Target)>> _bytes = new();
    private readonly List<List<int>> _epsilon = new();
    private readonly List<List<(int Start, int Return)>> _calls = new();
    private readonly List<bool> _final = new();
    private readonly Dictionary<string, int> _ruleStart = new();

    internal (ByteClass Class, int Target)[][] ByteEdges { get; private set; } = [];
    internal int[][] Epsilon { get; private set; } = [];
    internal (int Start, int Return)[][] Calls { get; private set; } = [];
    internal bool[] IsFinal { get; private set; } = [];
    /// <summary>A rule's end with nothing else to do: returning there is returning further (tail call).</summary>
    internal bool[] IsPureFinal { get; private set; } = [];
    public int Start { get; }
    public int StateCount => IsFinal.Length;

    private GrammarAutomaton(Grammar grammar)
    {
        if (!grammar.Rules.ContainsKey(grammar.Root)) throw new GrammarException($"the grammar has no rule '{grammar.Root}'");
        var ends = new Dictionary<string, int>();
        foreach (var name in grammar.Rules.Keys)
        {
            _ruleStart[name] = NewState();
            ends[name] = NewState();
            _final[ends[name]] = true;
        }
        foreach (var (name, expr) in grammar.Rules) Build(expr, _ruleStart[name], ends[name]);
        ByteEdges = _bytes.Select(l => l.ToArray()).ToArray();
        Epsilon = _epsilon.Select(l => l.ToArray()).ToArray();
        Calls = _calls.Select(l => l.ToArray()).ToArray();
        IsFinal = _final.ToArray();
        IsPureFinal = Enumerable.Range(0, IsFinal.Length)
            .Select(s => IsFinal[s] && ByteEdges[s].Length == 0 && Epsilon[s].Length == 0 && Calls[s].Length == 0).ToArray();
        Start = _ruleStart[grammar.Root];
    }

    public static GrammarAutomaton Compile(Grammar grammar)
    {
        var automaton = new GrammarAutomaton(grammar);
        var frames = new FrameTable();
        foreach (var (name, start) in automaton._ruleStart)
            if (Closure.Of(automaton, frames, [(start, null)]).Overflow)
                throw new GrammarException($"rule '{name}' is left-recursive (it can call itself before consuming anything)");
        return automaton;
    }

    internal int RuleStart(string name) => _ruleStart[name];

    private int NewState()
    {
        if (_final.Count >= MaxStates) throw new GrammarException($"the constraint is too large (over {MaxStates} automaton states)");
        _bytes.Add(new());
        _epsilon.Add(new());
        _calls.Add(new());
        _final.Add(false);
        return _final.Count - 1;
    }

    // Thompson's construction between two given states; loops get a fresh state so that a loop's
    // back edge never joins the paths of a neighbouring fragment.
    private void Build(GrammarExpr expr, int from, int to)
    {
        switch (expr)
        {
            case ByteExpr b:
                if (!b.Class.IsEmpty) _bytes[from].Add((b.Class, to));
                break;
            case SeqExpr { Items.Length: 0 }:
                _epsilon[from].Add(to);
                break;
            case SeqExpr s:
                int cur = from;
                for (int i = 0; i < s.Items.Length - 1; i++)
                {
                    int next = NewState();
                    Build(s.Items[i], cur, next);
                    cur = next;
                }
                Build(s.Items[^1], cur, to);
                break;
            case AltExpr a:
                foreach (var item in a.Items)
                {
                    int inner = NewState();
                    _epsilon[from].Add(inner);
                    Build(item, inner, to);
                }
                break;
            case RepeatExpr r:
                BuildRepeat(r, from, to);
                break;
            case RuleRef r:
                if (!_ruleStart.TryGetValue(r.Name, out int start)) throw new GrammarException($"undefined rule '{r.Name}'");
                _calls[from].Add((start, to));
                break;
            default:
                throw new InvalidOperationException(expr.GetType().Name);
        }
    }

    private void BuildRepeat(RepeatExpr r, int from, int to)
    {
        if (r.Min < 0 || r.Max < r.Min) throw new GrammarException($"bad repetition count {{{r.Min},{r.Max}}}");
        int cur = from;
        for (int i = 0; i < r.Min; i++)
        {
            int next = NewState();
            Build(r.Item, cur, next);
            cur = next;
        }
        if (r.Max is null)
        {
            int loop = NewState();
            _epsilon[cur].Add(loop);
            Build(r.Item, loop, loop);
            _epsilon[loop].Add(to);
            return;
        }
        for (int i = r.Min; i < r.Max; i++)
        {
            _epsilon[cur].Add(to);
            int next = NewState();
            Build(r.Item, cur, next);
            cur = next;
        }
        _epsilon[cur].Add(to);
    }
}
