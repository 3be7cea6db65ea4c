using Akka.Actor;
using LlmEngine.Contracts;

namespace LlmEngine.Actors.Distributed;

/// <summary>
/// The head's view of the pipeline stages that run on worker nodes (stages 1 to P-1; stage 0 is the
/// head's own): which worker holds each, and why a stage is missing. Written by
/// <see cref="StageDirectoryActor"/>, read by the stages' runners (on the engine's worker thread)
/// and by /health. Losing a worker cancels the step waiting on it at once.
/// </summary>
public sealed class ClusterStages
{
    private readonly object _gate = new();
    private readonly Slot[] _slots;
    private readonly Func<int, string> _describe;

    private sealed class Slot
    {
        public IActorRef? Worker;
        public Address? Node;
        public string Missing = "";
        public CancellationTokenSource Lost = new();
    }

    /// <param name="describe">names stage i for messages ("pipeline stage 1 of 2 (layers 3-4)")</param>
    public ClusterStages(int stages, Func<int, string> describe)
    {
        _describe = describe;
        _slots = [.. Enumerable.Range(0, stages).Select(_ => new Slot())];
        for (int s = 1; s < stages; s++) _slots[s].Missing = $"{describe(s)} has no worker node yet";
    }

    public int Count => _slots.Length;

    /// <summary>Raised (on the directory's thread) when a stage is loaded again after a loss: its cache starts empty.</summary>
    public event Action? Reloaded;

    internal void OnReloaded() => Reloaded?.Invoke();

    /// <summary>Why the model cannot run now (the first missing stage), or null when every stage has its worker.</summary>
    public string? MissingReason
    {
        get
        {
            lock (_gate) return _slots.Skip(1).FirstOrDefault(s => s.Worker is null)?.Missing;
        }
    }

    /// <summary>The node holding <paramref name="stage"/>, or null.</summary>
    public Address? NodeOf(int stage)
    {
        lock (_gate) return _slots[stage].Node;
    }

    /// <summary>Stage <paramref name="stage"/> is loaded on <paramref name="node"/>.</summary>
    internal void Ready(int stage, IActorRef worker, Address node)
    {
        lock (_gate)
        {
            var slot = _slots[stage];
            (slot.Worker, slot.Node, slot.Lost) = (worker, node, new CancellationTokenSource());
        }
    }

    /// <summary>Every stage on <paramref name="node"/> is gone: the steps waiting on it fail now.</summary>
    /// <returns>the stages it held</returns>
    internal IReadOnlyList<int> Lost(Address node, string why)
    {
        var lost = new List<int>();
        lock (_gate)
        {
            for (int s = 1; s < _slots.Length; s++)
            {
                var slot = _slots[s];
                if (!node.Equals(slot.Node)) continue;
                slot.Missing = $"{_describe(s)} was lost: worker {node} {why}";
                (slot.Worker, slot.Node) = (null, null);
                slot.Lost.Cancel();
                lost.Add(s);
            }
        }
        return lost;
    }

    /// <summary>Sends one step to <paramref name="stage"/>'s worker and waits for its answer, or for the worker's loss.</summary>
    /// <exception cref="StageUnavailableException">the stage has no worker, or lost it while waiting</exception>
    public StageStepDone Send(int stage, StageStep step)
    {
        IActorRef worker;
        CancellationToken lost;
        lock (_gate)
        {
            var slot = _slots[stage];
            if (slot.Worker is null) throw new StageUnavailableException(slot.Missing);
            (worker, lost) = (slot.Worker, slot.Lost.Token);
        }
        object reply;
        try
        {
            reply = worker.Ask<object>(step, null, lost).GetAwaiter().GetResult();
        }
        catch (OperationCanceledException)
        {
            lock (_gate) throw new StageUnavailableException(_slots[stage].Missing);
        }
        return reply switch
        {
            StageStepDone done when done.Step == step.Step => done,
            StageStepFailed failed => throw new InvalidOperationException($"{_describe(stage)} failed: {failed.Error}"),
            _ => throw new InvalidOperationException($"{_describe(stage)} answered step {step.Step} with {reply.GetType().Name}"),
        };
    }
}
