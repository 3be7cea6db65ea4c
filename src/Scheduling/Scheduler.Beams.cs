using LlmEngine.Scheduling.Sequences;

namespace LlmEngine.Scheduling;

public sealed partial class Scheduler
{
    /// <summary>
    /// One beam-search step of a request: rank the live beams' candidates, then reshape the
    /// beams by moving blocks, not data. A beam extended once keeps its sequence; extended k
    /// times it forks k - 1 children (sharing all blocks; the partly filled last block is
    /// copied on the next write); a beam not extended is dropped and its blocks freed.
    /// <code>
    ///   beams  A B C        candidates ranked: A+x, A+y, C+z, ...
    ///   after  A+x  A'+y  C+z    (A' forks A; B dropped)
    /// </code>
    /// </summary>
    private void AdvanceBeams(SequenceGroup group, IReadOnlyList<(Sequence Sequence, SampledToken Token)> rows, DateTime now, List<StepEvent> events)
    {
        var search = group.Beams!;
        var live = group.Unfinished.ToList();
        if (rows.Count != live.Count || live.Count == 0) return;
        group.FirstToken ??= now;
        var beams = rows.Select(r => new Beam(r.Sequence.OutputTokenIds, r.Sequence.CumulativeLogprob, r.Sequence.Samples)).ToList();
        var candidates = rows.Select(r => (IReadOnlyList<TokenLogprob>)r.Token.Top).ToList();
        var extensions = search.Step(beams, candidates);

        var parents = rows.Select(r => r.Sequence).ToList();
        var used = new HashSet<int>();
        var next = new List<(Sequence, BeamExtension)>();
        foreach (var e in extensions)
        {
            var parent = parents[e.Parent];
            next.Add((used.Add(e.Parent) ? parent : ForkChild(group, parent, group.Sequences.Count), e));
        }
        for (int b = 0; b < parents.Count; b++)
            if (!used.Contains(b)) FinishSequence(parents[b], "dropped");
        foreach (var (sequence, e) in next)
            sequence.Append(search.Sample(e, candidates[e.Parent]));

        var alive = next.Select(n => n.Item1).ToList();
        bool atLimit = alive.Count > 0 && (alive[0].OutputTokenIds.Count >= group.Terms.MaxTokens || alive[0].TokenCount >= options.MaxModelLength);
        if (!search.Done && !atLimit && alive.Count > 0) return;
        var best = search.Finish(alive.Select(s => new Beam(s.OutputTokenIds, s.CumulativeLogprob, s.Samples)).ToList(), "length");
        foreach (var s in alive) FinishSequence(s, "length");
        if (group.IsFinished || group.Sequences.All(s => s.IsFinished)) Remove(group);
        events.Add(new StepEvent(group, 0, null, best[0].FinishReason, best));
    }
}
