namespace LlmEngine.Actors.Cluster;

/// <summary>What the policy knows of one candidate replica for one request.</summary>
/// <param name="MatchedBlocks">Leading prompt blocks the replica holds (or was just sent).</param>
/// <param name="Load">Requests per seat: max(running + waiting reported, in flight from this node) / max_num_seqs.</param>
internal readonly record struct Candidate(string Node, int MatchedBlocks, double Load);

/// <summary>
/// The one routing decision of a cluster's front door, a plain class (no actor, no clock).
/// <code>
///   kv-aware:      score = matched_blocks / prompt_blocks  -  load      (highest wins)
///   least-loaded:  score = -load
///   round-robin:   the next candidate in turn
/// </code>
/// Both terms are shares (0..1 of the prompt, requests per seat), so one seat's worth of queue
/// outweighs a whole cached prompt: a hot replica keeps its prefix's traffic until its queue is
/// a full batch longer than another's. Ties (an uncached prompt on idle replicas) go to the
/// lowest load, then in turn, so that new prefixes spread over the replicas.
/// </summary>
public sealed class RoutingPolicy(RoutingMode mode)
{
    private const double Tie = 1e-9;
    private long _turn;

    public RoutingMode Mode { get; } = mode;

    /// <summary>The chosen candidate's index in <paramref name="candidates"/> (ordered by node, the same
    /// order every call), or -1 when there is none.</summary>
    internal int Pick(IReadOnlyList<Candidate> candidates, int promptBlocks)
    {
        if (candidates.Count == 0) return -1;
        long turn = _turn++;
        if (Mode == RoutingMode.RoundRobin) return (int)(turn % candidates.Count);
        int best = -1;
        double bestScore = double.NegativeInfinity, bestLoad = double.PositiveInfinity;
        // Starting the scan at a rotating offset makes "first among equals" take turns.
        for (int k = 0; k < candidates.Count; k++)
        {
            int i = (int)((turn + k) % candidates.Count);
            var c = candidates[i];
            double score = Score(c, promptBlocks);
            if (score > bestScore + Tie || (Math.Abs(score - bestScore) <= Tie && c.Load < bestLoad - Tie))
                (best, bestScore, bestLoad) = (i, score, c.Load);
        }
        return best;
    }

    internal double Score(Candidate c, int promptBlocks) => Mode switch
    {
        RoutingMode.KvAware => (double)c.MatchedBlocks / Math.Max(promptBlocks, 1) - c.Load,
        _ => -c.Load,
    };
}
