using LlmEngine.Actors.Engine;
using LlmEngine.Actors.Scheduling;
using LlmEngine.Kernels.Sampling;

namespace LlmEngine.Actors.Sequences;

/// <summary>
/// A request as the scheduler sees it: its sequences (one, or several sharing the prompt's
/// blocks), its place in arrival order, and its status. Preemption moves whole groups.
/// </summary>
public sealed class SequenceGroup(GenerationRequest request, long arrivalOrder, DateTime arrival)
{
    public GenerationRequest Request { get; } = request;
    public string RequestId => Request.RequestId;
    public long ArrivalOrder { get; } = arrivalOrder;
    public DateTime Arrival { get; } = arrival;
    public List<Sequence> Sequences { get; } = new();
    /// <summary>One random stream per completion index; a seeded request derives index i's seed
    /// from its own, so sample i equals a single request made with that derived seed.</summary>
    public SequenceRandom[] Randoms { get; } = Enumerable.Range(0, request.Sampling.N)
        .Select(i => SequenceRandom.FromSeed(request.Sampling.Seed is { } seed ? SequenceRandom.DeriveSeed(seed, i) : null)).ToArray();
    public SequenceStatus Status { get; set; } = SequenceStatus.Waiting;
    public DateTime? FirstScheduled { get; set; }
    public DateTime? FirstToken { get; set; }
    /// <summary>Set once the prompt has been sampled from and the group fanned out to n sequences.</summary>
    public bool FannedOut { get; set; }
    public int NumPreemptions { get; set; }
    /// <summary>The beam search state of a use_beam_search request; null otherwise.</summary>
    public BeamSearch? Beams { get; init; }

    public IEnumerable<Sequence> Unfinished => Sequences.Where(s => !s.IsFinished);
    public bool IsFinished => Sequences.Count > 0 && Sequences.All(s => s.IsFinished);
}
