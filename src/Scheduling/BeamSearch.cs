
namespace LlmEngine.Scheduling;

/// <summary>A live beam as the search sees it: its generated tokens and their summed log-probability,
/// and the tokens as sampled (log-probabilities and alternatives; null: not kept).</summary>
public sealed record Beam(IReadOnlyList<int> Tokens, double CumulativeLogprob, IReadOnlyList<SampledToken>? Samples = null);

/// <summary>A new live beam: which current beam it extends, with which token, at what total.</summary>
public sealed record BeamExtension(int Parent, int Token, double TokenLogprob, double CumulativeLogprob);

/// <summary>A finished beam: its tokens (ending with the stop token, if it stopped), summed
/// log-probability, length-penalised score, finish reason, and its tokens as sampled, each with the
/// request's top <c>logprobs</c> alternatives at that step (empty when the beams kept none).</summary>
public sealed record BeamHypothesis(IReadOnlyList<int> Tokens, double CumulativeLogprob, double Score, string FinishReason,
    IReadOnlyList<SampledToken> Samples);

/// <summary>
/// Beam search as Hugging Face defines it, as a pure policy over candidates: each step every
/// live beam proposes its 2W best next tokens; candidates are ranked by summed log-probability;
/// a stop token among the first W candidates ends a hypothesis, scored sum / length^penalty
/// with length counted without the stop token; the first W other candidates become the next
/// beams. The search is done per <c>early_stopping</c>: true, once W hypotheses exist; false,
/// once no live beam can beat the worst of them at the current length; "never", the same
/// bound taken at max_tokens when the length penalty is positive.
/// </summary>
public sealed class BeamSearch(CompletionTerms terms, IReadOnlyCollection<int> eosTokenIds)
{
    private readonly List<BeamHypothesis> _finished = new();

    public int Width => terms.N;
    public bool Done { get; private set; }
    public IReadOnlyList<BeamHypothesis> Finished => _finished;

    public IReadOnlyList<BeamExtension> Step(IReadOnlyList<Beam> beams, IReadOnlyList<IReadOnlyList<TokenLogprob>> candidates)
    {
        // A constraint leaves refused tokens at -inf: never candidates.
        var ranked = beams.SelectMany((beam, b) => candidates[b].Take(2 * Width).Where(c => !float.IsNegativeInfinity(c.Logprob))
                .Select((c, k) => new BeamExtension(b, c.TokenId, c.Logprob, beam.CumulativeLogprob + c.Logprob)))
            .OrderByDescending(e => e.CumulativeLogprob).ThenBy(e => e.Parent).ToList();
        int generated = beams.Count == 0 ? 0 : beams[0].Tokens.Count;
        var next = new List<BeamExtension>();
        for (int rank = 0; rank < ranked.Count && next.Count < Width; rank++)
        {
            var e = ranked[rank];
            if (IsStop(e.Token))
            {
                if (rank < Width)
                {
                    var parent = beams[e.Parent];
                    var samples = parent.Samples?.Append(Sample(e, candidates[e.Parent])).ToList() ?? [];
                    Add(parent.Tokens.Append(e.Token).ToList(), e.CumulativeLogprob, generated, "stop", samples);
                }
                continue;
            }
            next.Add(e);
        }
        if (ranked.Count > 0 && IsDone(ranked[0].CumulativeLogprob, generated)) Done = true;
        if (next.Count == 0) Done = true;
        return next;
    }

    /// <summary>The token an extension adds, as sampled: its log-probability and the request's top
    /// <c>logprobs</c> alternatives among its parent's candidates (which are ranked best first).</summary>
    public SampledToken Sample(BeamExtension e, IReadOnlyList<TokenLogprob> parentCandidates) =>
        new(e.Token, float.NaN, (float)e.TokenLogprob, [.. parentCandidates.Take(terms.Logprobs)]);

    /// <summary>Ends the search: live beams join the hypotheses; returns the best W, best first.</summary>
    public IReadOnlyList<BeamHypothesis> Finish(IReadOnlyList<Beam> live, string reason)
    {
        if (!Done)
            foreach (var beam in live) Add(beam.Tokens, beam.CumulativeLogprob, beam.Tokens.Count, reason, beam.Samples ?? []);
        Done = true;
        return _finished.OrderByDescending(h => h.Score).Take(Width).ToList();
    }

    private bool IsStop(int token) => (!terms.IgnoreEos && eosTokenIds.Contains(token)) || terms.StopTokenIds.Contains(token);

    private double Score(double cumulative, int length) => cumulative / Math.Pow(Math.Max(length, 1), terms.LengthPenalty);

    // Keeps the best W hypotheses, as Hugging Face's BeamHypotheses does.
    private void Add(IReadOnlyList<int> tokens, double cumulative, int length, string reason, IReadOnlyList<SampledToken> samples)
    {
        var hypothesis = new BeamHypothesis(tokens, cumulative, Score(cumulative, length), reason, samples);
        if (_finished.Count < Width) { _finished.Add(hypothesis); return; }
        var worst = _finished.MinBy(h => h.Score)!;
        if (hypothesis.Score > worst.Score)
        {
            _finished.Remove(worst);
            _finished.Add(hypothesis);
        }
    }

    private bool IsDone(double bestCandidate, int generated)
    {
        if (_finished.Count < Width) return false;
        double worst = _finished.Min(h => h.Score);
        return terms.EarlyStopping switch
        {
            "true" => true,
            "never" when terms.LengthPenalty > 0 => worst >= bestCandidate / Math.Pow(terms.MaxTokens, terms.LengthPenalty),
            _ => worst >= Score(bestCandidate, generated),
        };
    }
}
