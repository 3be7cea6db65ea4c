using Akka.Actor;
using LlmEngine.Actors.Engine;
using LlmEngine.Contracts;

namespace LlmEngine.Actors.Distributed;

/// <summary>
/// The head's view of the parts of the model that run on worker nodes: pipeline stages 1 to P-1 (stage 0
/// is the head's own), or with --tensor-parallel-across-nodes each stage's tensor-parallel ranks, part
/// s x T + r for rank r of stage s (part 0, rank 0 of stage 0, is the head's own): which worker holds
/// each, and why a part is missing. Written by
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
    private long _version;

    private sealed class Slot
    {
        public IActorRef? Worker;
        public Address? Node;
        public string Missing = "";
        public bool Loaded;
        public string? Endpoint;
        public CancellationTokenSource Lost = new();
    }

    /// <param name="parts">stages, or stages x ranks when each rank runs on its own node</param>
    /// <param name="describe">names part i for messages ("pipeline stage 1 of 2 (layers 3-4)")</param>
    /// <param name="stepTimeout">how long a worker may take to answer one step before it counts as lost</param>
    public ClusterStages(int parts, Func<int, string> describe, TimeSpan stepTimeout)
    {
        (_describe, _stepTimeout) = (describe, stepTimeout);
        _slots = [.. Enumerable.Range(0, parts).Select(_ => new Slot())];
        for (int s = 1; s < parts; s++) _slots[s].Missing = $"{describe(s)} has no worker node yet";
    }

    /// <summary>Parts, the head's included.</summary>
    public int Count => _slots.Length;

    public TimeSpan StepTimeout => _stepTimeout;

    /// <summary>Names part <paramref name="part"/> ("pipeline stage 1 of 2 (layers 3-4)").</summary>
    public string Describe(int part) => _describe(part);

    /// <summary>Counts every part loaded on a worker so far: it changes whenever a part gets a (new) worker node.</summary>
    public long Version => Interlocked.Read(ref _version);

    /// <summary>The all-reduce endpoint of <paramref name="part"/>'s worker, or null while it has none.</summary>
    public string? EndpointOf(int part)
    {
        lock (_gate) return _slots[part].Worker is null ? null : _slots[part].Endpoint;
    }

    /// <summary>The worker actor holding <paramref name="part"/>, or null.</summary>
    public IActorRef? WorkerOf(int part)
    {
        lock (_gate) return _slots[part].Worker;
    }

    /// <summary>Cancelled when <paramref name="part"/>'s current worker is lost (already cancelled when it has none).</summary>
    public CancellationToken LostToken(int part)
    {
        lock (_gate) return _slots[part].Worker is null ? new CancellationToken(true) : _slots[part].Lost.Token;
    }

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

    /// <summary>Part <paramref name="stage"/> is loaded on <paramref name="node"/>; a rank's all-reduce listens at <paramref name="endpoint"/>.</summary>
    internal void Ready(int stage, IActorRef worker, Address node, string? endpoint = null)
    {
        lock (_gate)
        {
            var slot = _slots[stage];
            (slot.Worker, slot.Node, slot.Lost, slot.Endpoint) = (worker, node, new CancellationTokenSource(), endpoint);
            if (slot.Loaded) Interlocked.Increment(ref _reloads);
            slot.Loaded = true;
            Interlocked.Increment(ref _version);
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
    public StageStepDone Send(int stage, StageStep step) => SendAsync(stage, step).GetAwaiter().GetResult();

    /// <inheritdoc cref="Send"/>
    public async Task<StageStepDone> SendAsync(int stage, StageStep step)
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
            reply = await worker.Ask<object>(step, _stepTimeout, lost);
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
