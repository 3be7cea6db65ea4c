using LlmEngine.Actors.Engine;
using LlmEngine.Actors.Scheduling;

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
    public SequenceStatus Status { get; set; } = SequenceStatus.Waiting;
    public DateTime? FirstScheduled { get; set; }
    public DateTime? FirstToken { get; set; }
    /// <summary>Whether the worker has been sent the request (with its first step).</summary>
    internal bool Sent { get; set; }
    public int NumPreemptions { get; set; }
    /// <summary>The beam search state of a use_beam_search request; null otherwise.</summary>
    public BeamSearch? Beams { get; init; }

    public IEnumerable<Sequence> Unfinished => Sequences.Where(s => !s.IsFinished);
    public bool IsFinished => Sequences.Count > 0 && Sequences.All(s => s.IsFinished);
}
