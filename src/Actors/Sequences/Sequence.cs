using LlmEngine.Kernels.Sampling;
using LlmEngine.Kernels.Structured;

namespace LlmEngine.Actors.Sequences;

/// <summary>
/// One generated stream's tokens as the scheduler sees them. The one scheduling rule works on
/// two counts: <see cref="TokenCount"/> (prompt plus output) and <see cref="NumComputed"/>
/// (tokens whose K/V are in the cache); each step lets the second catch up with the first.
/// </summary>
public sealed class Sequence(long id, int index, IReadOnlyList<int> promptTokenIds, SequenceRandom random)
{
    private readonly List<int> _output = new();

    public long Id { get; } = id;
    /// <summary>Which completion of its request this is (OpenAI's choice index).</summary>
    public int Index { get; set; } = index;
    public IReadOnlyList<int> PromptTokenIds { get; } = promptTokenIds;
    public IReadOnlyList<int> OutputTokenIds => _output;
    public SequenceRandom Random { get; } = random;
    public int NumComputed { get; set; }
    public double CumulativeLogprob { get; set; }
    public string? FinishReason { get; set; }
    /// <summary>Where the request's constraint stands after this sequence's output (null: none).
    /// Advanced with each appended token; kept as is through preemption (both modes keep the
    /// output tokens, so it stays exactly the replay of them) and shared by forks.</summary>
    public GuidePosition? Guide { get; private set; }

    /// <summary>A sequence of a constrained request starts at the constraint's start.</summary>
    public Sequence Constrained(TokenGuide? guide)
    {
        Guide = guide is null ? null : GuidePosition.Start(guide);
        return this;
    }

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
        CumulativeLogprob += sample.Logprob;
        Guide = Guide?.Advance(sample.TokenId);
    }

    /// <summary>A copy for a fork (parallel sampling, beams): same tokens and computed count.</summary>
    public Sequence Fork(long childId, int childIndex, SequenceRandom childRandom)
    {
        var child = new Sequence(childId, childIndex, PromptTokenIds, childRandom) { NumComputed = NumComputed, CumulativeLogprob = CumulativeLogprob, Guide = Guide };
        child._output.AddRange(_output);
        return child;
    }
}
