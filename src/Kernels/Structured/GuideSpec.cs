using System.Text.Json;

namespace LlmEngine.Kernels.Structured;

public enum GuideKind { Json, JsonSchema, Regex, Choice, Grammar }

/// <summary>A constraint as a request states it (vLLM's structured_outputs): any JSON object,
/// a JSON Schema (its JSON text), a regex, a list of choices, or a GBNF grammar.</summary>
public sealed record GuideSpec(GuideKind Kind, string Source)
{
    public static GuideSpec Choice(IEnumerable<string> choices) => new(GuideKind.Choice, JsonSerializer.Serialize(choices.ToArray()));

    public Grammar ToGrammar() => Kind switch
    {
        GuideKind.Json => JsonPieces.AnyObject(),
        GuideKind.JsonSchema => JsonSchemaGrammar.Parse(Source),
        GuideKind.Regex => RegexGrammar.Parse(Source),
        GuideKind.Grammar => GbnfGrammar.Parse(Source),
        _ => ChoiceGrammar(JsonSerializer.Deserialize<string[]>(Source) ?? []),
    };

    private static Grammar ChoiceGrammar(string[] choices)
    {
        if (choices.Length == 0) throw new GrammarException("choice must list at least one string");
        return new Grammar(new Dictionary<string, GrammarExpr> { ["root"] = GrammarExpr.Alt(choices.Select(GrammarExpr.Literal).ToArray()) }, "root");
    }
}

/// <summary>
/// Compiles constraints for one vocabulary and keeps the compiled guides (their automata, token
/// tables and cached masks) for reuse: requests with the same schema share all that work.
/// Least recently compiled guides are dropped past <paramref name="capacity"/>.
/// </summary>
public sealed class GuideCompiler(TokenVocabulary vocabulary, int capacity = 256)
{
    private readonly object _lock = new();
    private readonly Dictionary<GuideSpec, Lazy<TokenGuide>> _cache = new();
    private readonly Queue<GuideSpec> _order = new();

    public TokenVocabulary Vocabulary => vocabulary;

    /// <summary>The guide for <paramref name="spec"/>; throws <see cref="GrammarException"/> when it cannot be compiled.</summary>
    public TokenGuide Compile(GuideSpec spec)
    {
        Lazy<TokenGuide> entry;
        lock (_lock)
        {
            if (!_cache.TryGetValue(spec, out entry!))
            {
                entry = new Lazy<TokenGuide>(() => new TokenGuide(GrammarAutomaton.Compile(spec.ToGrammar()), vocabulary));
                _cache[spec] = entry;
                _order.Enqueue(spec);
                while (_order.Count > capacity) _cache.Remove(_order.Dequeue());
            }
        }
        try
        {
            return entry.Value;
        }
        catch (GrammarException)
        {
            lock (_lock) _cache.Remove(spec);
            throw;
        }
    }
}

/// <summary>A sequence's place in its constraint: immutable, so forks share it and preemption keeps it.</summary>
public sealed record GuidePosition(TokenGuide Guide, GuideState State)
{
    public static GuidePosition Start(TokenGuide guide) => new(guide, guide.Initial);

    public GuidePosition Advance(int token) => this with { State = Guide.Advance(State, token) };

    /// <summary>Allowed next tokens; a dead position (a token was forced past the constraint) may only end.</summary>
    public ulong[] Mask() => Guide.Mask(State);
}
