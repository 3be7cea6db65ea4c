using System.Diagnostics;
using Akka.Actor;
using LlmEngine.Contracts;
using LlmEngine.Kernels.Runtime;
using LlmEngine.Kernels.Sharding;
using TorchSharp;

namespace LlmEngine.Actors.Distributed;

/// <summary>
/// A pipeline stage whose T tensor-parallel ranks run on T nodes (--tensor-parallel-across-nodes), as the
/// head's <see cref="PipelineRunner"/> sees it. Stage 0's rank 0 is the head's own (<paramref name="local"/>, on
/// the engine's thread: the head samples, so it holds the whole LM head); every other rank is a worker node's.
/// Each step goes to every rank (the same step record and hidden states; the same block ids), the ranks meet
/// in each layer's all-reduces over their own TCP connections (<see cref="SocketAllReduce"/>), and rank 0's
/// output goes on.
/// <code>
///   head: rank 0 of stage 0         worker: rank 1 of stage 0
///   RankGroup (once) -------------->  connects to rank 0's all-reduce
///   StageStep (ask) --------------->  embeds, layer 0 ...
///   embeds, layer 0 ... all-reduce &lt;=TCP=> all-reduce ... (2 per layer)
///   logits, samples   &lt;------------  StageStepDone (no tensor)
/// </code>
/// The group is formed before the first step and again when one of its ranks got a new node or a step broke
/// it. When a rank's node is lost, the head's own rank stops waiting on it at once (its all-reduce is
/// aborted), and the step fails as a lost pipeline stage's does.
/// </summary>
internal sealed class RankGroupRunner : IStageRunner
{
    private readonly ClusterStages _stages;
    private readonly int _stage, _ranks;
    private readonly ModelRunner? _local;
    private readonly SocketAllReduce? _group;
    private readonly TensorShard? _shard;
    private long _steps, _generation, _formedAt = -1, _localTicks;
    // Each remote rank's compute and all-reduce time as its worker reported them, by rank.
    private readonly RankTimes[] _remote;

    /// <param name="local">stage 0's rank 0 on the head, whose shard is <paramref name="shard"/>, its all-reduce
    /// <paramref name="group"/>; null for a later stage</param>
    public RankGroupRunner(ClusterStages stages, int stage, int ranks, ModelRunner? local = null, TensorShard? shard = null, SocketAllReduce? group = null)
    {
        if ((local is null) != (group is null) || (local is null) != (shard is null)) throw new ArgumentException("the head's rank needs its shard and all-reduce group", nameof(group));
        (_stages, _stage, _ranks, _local, _shard, _group) = (stages, stage, ranks, local, shard, group);
        _remote = [.. Enumerable.Range(0, ranks).Select(r => new RankTimes(r, 0, 0, 0, 0))];
    }

    /// <summary>Each rank's compute and all-reduce time (its waits for the other ranks included): the head's own as it
    /// measured it, the others' as their workers reported them with each step.</summary>
    public IReadOnlyList<RankTimes> Ranks => _shard is null ? _remote
        : [new RankTimes(0, Stopwatch.GetElapsedTime(0, _localTicks).TotalSeconds, _shard.CommunicationSeconds, _shard.BytesReduced, _shard.AllReduces), .. _remote.Skip(1)];

    private IEnumerable<int> RemoteRanks => Enumerable.Range(_local is null ? 0 : 1, _local is null ? _ranks : _ranks - 1);

    private int Part(int rank) => _stage * _ranks + rank;

    public torch.Tensor? Forward(ModelStep step, torch.Tensor? hidden)
    {
        Form();
        var wire = StageWire.Step(Interlocked.Increment(ref _steps), step, hidden);
        var remote = RemoteRanks.Select(r => _stages.SendAsync(Part(r), wire)).ToArray();
        torch.Tensor? output = null;
        Exception? failed = null;
        if (_local is not null)
        {
            // A rank's node lost mid-step: the head's rank must not wait for its partial sums.
            var aborts = RemoteRanks.Select(r => _stages.LostToken(Part(r)).Register(() => _group!.Abort($"{_stages.Describe(Part(r))} was lost"))).ToArray();
            long started = Stopwatch.GetTimestamp();
            try
            {
                output = _local.Forward(step, hidden);
            }
            catch (Exception error)
            {
                // The other ranks must not wait for this one's partial sums either.
                _group!.Abort($"rank 0 failed: {error.Message}");
                failed = error;
            }
            finally
            {
                foreach (var abort in aborts) abort.Dispose();
                _localTicks += Stopwatch.GetTimestamp() - started;
            }
        }
        // Every rank answers (or is lost, or times out): a step never leaves a rank behind still running it.
        try
        {
            Task.WaitAll(remote);
        }
        catch (AggregateException)
        {
        }
        var errors = remote.Where(t => t.IsFaulted).Select(t => t.Exception!.InnerException!).Append(failed).OfType<Exception>().ToList();
        if (errors.Count > 0)
        {
            output?.Dispose();
            _formedAt = -1;
            // A lost rank is the cause; the others' broken connections are its consequences.
            throw errors.FirstOrDefault(e => e is StageUnavailableException) ?? errors.FirstOrDefault(e => e is not AllReduceConnectionException) ?? errors[0];
        }
        foreach (var (r, done) in RemoteRanks.Zip(remote, (r, t) => (r, t.Result)))
        {
            var was = _remote[r];
            _remote[r] = new RankTimes(r, was.ForwardSeconds + done.ComputeSeconds, was.CommunicationSeconds + done.AllReduceSeconds,
                was.BytesReduced + done.BytesReduced, was.AllReduces + done.AllReduces);
        }
        if (_local is not null) return output;
        var first = remote[0].Result.Output;
        return first is null ? null : StageWire.Tensor(first);
    }

    // Every rank gets every rank's endpoint before the step (the same remote connection carries both, in order).
    private void Form()
    {
        long version = _stages.Version;
        if (version == _formedAt) return;
        var endpoints = Enumerable.Range(0, _ranks).Select(r => r == 0 && _group is not null ? _group.Endpoint : _stages.EndpointOf(Part(r))).ToArray();
        if (Array.FindIndex(endpoints, e => e is null) is var missing and >= 0)
            throw new StageUnavailableException(_stages.MissingReason ?? $"{_stages.Describe(Part(missing))} has no worker node");
        var group = new RankGroup(++_generation, endpoints!, _stages.StepTimeout.TotalSeconds);
        _group?.Connect(endpoints!, _generation, _stages.StepTimeout);
        foreach (int r in RemoteRanks) _stages.WorkerOf(Part(r))?.Tell(group, ActorRefs.NoSender);
        _formedAt = version;
    }
}
