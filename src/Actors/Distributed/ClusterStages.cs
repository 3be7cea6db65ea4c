using Akka.Actor;
using LlmEngine.Actors.Engine;
using LlmEngine.Contracts;

namespace LlmEngine.Actors.Distributed;

/// <summary>
/// The head's view of the pipeline stages that run on worker nodes (stages 1 to P-1; stage 0 is the
/// head's own): which worker holds each, and why a stage is missing. Written by
/// <see cref="StageDirectoryActor"/>, read by the stages' runners (on the engine's worker thread)
/// and by /health; the scheduler holds its steps while a stage is missing (<see cref="IStepGate"/>).
/// Losing a worker cancels the step waiting on it at once; a worker that does not answer a step
/// within the step timeout is counted as lost too.
/// </summary>
internal sealed class ClusterStages : IStepGate
{
    private readonly object _gate = new();
    private readonly Slot[] _slots;
    private readonly Func<int, string> _describe;
    private readonly TimeSpan _stepTimeout;
    private long _reloads;

    private sealed class Slot
    {
        public IActorRef? Worker;
        public Address? Node;
        public string Missing = "";
        public bool Loaded;
        public CancellationTokenSource Lost = new();
    }

    /// <param name="describe">names stage i for messages ("pipeline stage 1 of 2 (layers 3-4)")</param>
    /// <param name="stepTimeout">how long a worker may take to answer one step before it counts as lost</param>
    public ClusterStages(int stages, Func<int, string> describe, TimeSpan stepTimeout)
    {
        (_describe, _stepTimeout) = (describe, stepTimeout);
        _slots = [.. Enumerable.Range(0, stages).Select(_ => new Slot())];
        for (int s = 1; s < stages; s++) _slots[s].Missing = $"{describe(s)} has no worker node yet";
    }

    public int Count => _slots.Length;

    /// <summary>Raised (on the directory's thread) when a stage gets its worker: the scheduler may run steps again.</summary>
    public event Action? Readied;

    /// <summary>Raised (on the thread that sent the step) when a worker did not answer a step in time:
    /// its stages are lost already; the directory downs the node so that another can take them.</summary>
    public event Action<Address, IReadOnlyList<int>, string>? Unresponsive;

    /// <summary>Why the model cannot run now (the first missing stage), or null when every stage has its worker.</summary>
    public string? MissingReason
    {
        get
        {
            lock (_gate) return _slots.Skip(1).FirstOrDefault(s => s.Worker is null)?.Missing;
        }
    }

    string? IStepGate.Closed => MissingReason;

    /// <summary>Stages loaded on a new worker after their first: each such stage's KV cache started empty.</summary>
    public long Reloads => Interlocked.Read(ref _reloads);

    /// <summary>The node holding <paramref name="stage"/>, or null.</summary>
    public Address? NodeOf(int stage)
    {
        lock (_gate) return _slots[stage].Node;
    }

    /// <summary>The stage <paramref name="node"/> holds, or null.</summary>
    internal int? StageOf(Address node)
    {
        lock (_gate)
            for (int s = 1; s < _slots.Length; s++)
                if (node.Equals(_slots[s].Node)) return s;
        return null;
    }

    /// <summary>Stage <paramref name="stage"/> is loaded on <paramref name="node"/>.</summary>
    internal void Ready(int stage, IActorRef worker, Address node)
    {
        lock (_gate)
        {
            var slot = _slots[stage];
            (slot.Worker, slot.Node, slot.Lost) = (worker, node, new CancellationTokenSource());
            if (slot.Loaded) Interlocked.Increment(ref _reloads);
            slot.Loaded = true;
        }
        Readied?.Invoke();
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

    /// <summary>Sends one step to <paramref name="stage"/>'s worker and waits for its answer, for the worker's loss,
    /// or at most the step timeout (then the worker counts as lost).</summary>
    /// <exception cref="StageUnavailableException">the stage has no worker, lost it while waiting, or had no answer in time</exception>
    public StageStepDone Send(int stage, StageStep step)
    {
        IActorRef worker;
        Address node;
        CancellationToken lost;
        lock (_gate)
        {
            var slot = _slots[stage];
            if (slot.Worker is null) throw new StageUnavailableException(slot.Missing);
            (worker, node, lost) = (slot.Worker, slot.Node!, slot.Lost.Token);
        }
        object reply;
        try
        {
            reply = worker.Ask<object>(step, _stepTimeout, lost).GetAwaiter().GetResult();
        }
        catch (AskTimeoutException)
        {
            // A live node whose stage dropped or is stuck on a step: no later step could pass it.
            string why = $"did not answer step {step.Step} within {_stepTimeout.TotalSeconds:0.#} s";
            var stages = Lost(node, why);
            Unresponsive?.Invoke(node, stages, why);
            lock (_gate) throw new StageUnavailableException(_slots[stage].Missing);
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
