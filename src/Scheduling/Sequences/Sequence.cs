
namespace LlmEngine.Scheduling.Sequences;

/// <summary>
/// One generated stream's tokens as the scheduler sees them. The one scheduling rule works on
/// two counts: <see cref="TokenCount"/> (prompt plus output) and <see cref="NumComputed"/>
/// (tokens whose K/V are in the cache); each step lets the second catch up with the first.
/// </summary>
public sealed class Sequence(long id, int index, IReadOnlyList<int> promptTokenIds)
{
    private readonly List<int> _output = new();
    private readonly List<SampledToken> _samples = new();

    public long Id { get; } = id;
    /// <summary>Which completion of its request this is (OpenAI's choice index).</summary>
    public int Index { get; set; } = index;
    public IReadOnlyList<int> PromptTokenIds { get; } = promptTokenIds;
    public IReadOnlyList<int> OutputTokenIds => _output;
    /// <summary>The output tokens as sampled (log-probabilities and alternatives), for beams, whose
    /// tokens reach their request only when the search ends.</summary>
    public IReadOnlyList<SampledToken> Samples => _samples;
    public int NumComputed { get; set; }
    public double CumulativeLogprob { get; set; }
    public string? FinishReason { get; set; }

    /// <summary>Tokens the worker holds for this sequence: the next step sends those after them.</summary>
    internal int SentTokens { get; set; }
    /// <summary>The block table the worker holds: the next step sends what changed.</summary>
    internal int[] SentBlocks { get; set; } = [];
    /// <summary>Whether its cached keys were computed for a long context (Phi-3 longrope's long
    /// factors; see <c>LongContextSwitch</c>).</summary>
    internal bool CachedLong { get; set; }

    public int TokenCount => PromptTokenIds.Count + _output.Count;
    public int Remaining => TokenCount - NumComputed;
    public bool IsFinished => FinishReason is not null;
    public int LastToken => _output.Count > 0 ? _output[^1] : PromptTokenIds[^1];

    public int TokenAt(int position) => position < PromptTokenIds.Count ? PromptTokenIds[position] : _output[position - PromptTokenIds.Count];

    public int[] AllTokens()
    {
        var all = new int[TokenCount];
        for (int i = 0; i < PromptTokenIds.Count; i++) all[i] = PromptTokenIds[i];
        _output.CopyTo(all, PromptTokenIds.Count);
        return all;
    }

    public void Append(SampledToken sample)
    {
        _output.Add(sample.TokenId);
        _samples.Add(sample);
        CumulativeLogprob += sample.Logprob;
    }

    /// <summary>A copy for a fork (parallel sampling, beams): same tokens and computed count; the
    /// worker forks its own copy of the parent, so the child starts from what the parent was sent.</summary>
    public Sequence Fork(long childId, int childIndex)
    {
        var child = new Sequence(childId, childIndex, PromptTokenIds)
        {
            NumComputed = NumComputed, CumulativeLogprob = CumulativeLogprob, SentTokens = SentTokens, SentBlocks = SentBlocks,
            CachedLong = CachedLong,
        };
        child._output.AddRange(_output);
        child._samples.AddRange(_samples);
        return child;
    }
}
