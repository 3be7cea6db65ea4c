
namespace LlmEngine.Scheduling.Sequences;

/// <summary>
/// A request as the scheduler sees it: its sequences (one, or several sharing the prompt's
/// blocks), its place in arrival order, and its status. Preemption moves whole groups.
/// </summary>
public sealed class SequenceGroup(IScheduledRequest request, long arrivalOrder, DateTime arrival)
{
    public IScheduledRequest Request { get; } = request;
    /// <summary>How many completions the request has and when each ends.</summary>
    public CompletionTerms Terms { get; } = request.Terms;
    public string RequestId => Request.RequestId;
    public long ArrivalOrder { get; } = arrivalOrder;
    public DateTime Arrival { get; } = arrival;
    public List<Sequence> Sequences { get; } = new();
    public SequenceStatus Status { get; set; } = SequenceStatus.Waiting;
    public DateTime? FirstScheduled { get; set; }
    public DateTime? FirstToken { get; set; }
    /// <summary>Whether the worker has been sent the request (with its first step).</summary>
    internal bool Sent { get; set; }
    /// <summary>Whether the request has sampled (its prompt fanned out to its n completions).</summary>
    internal bool Sampled { get; set; }
    public int NumPreemptions { get; set; }
    /// <summary>The beam search state of a use_beam_search request; null otherwise.</summary>
    public BeamSearch? Beams { get; internal set; }

    public IEnumerable<Sequence> Unfinished => Sequences.Where(s => !s.IsFinished);
    public bool IsFinished => Sequences.Count > 0 && Sequences.All(s => s.IsFinished);
}
