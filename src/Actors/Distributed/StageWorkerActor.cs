using System.Diagnostics;
using Akka.Actor;
using Akka.Cluster;
using LlmEngine.Contracts;
using LlmEngine.Kernels.Loading;
using LlmEngine.Kernels.Sharding;
using LlmEngine.Kernels.Workers;
using LlmEngine.Scheduling;

namespace LlmEngine.Actors.Distributed;

/// <summary>
/// A worker node's pipeline stage (<c>llm-engine worker --join</c>), at /user/<see cref="Name"/>:
/// loads the stage the head assigns from this node's own copy of the model (or the head's path),
/// then runs each <see cref="StageStep"/> on it: the step's cache operations on its layers' blocks,
/// its layers on the hidden states that came with the step, and the result back to the head.
/// Runs on the pinned worker dispatcher (loading and computing block its thread). A worker that
/// cannot serve its stage (its load failed, the head refused its model copy, or a bug escaped a
/// handler) leaves the cluster, so the process exits 1 and a supervisor can start it afresh,
/// instead of staying joined and useless.
/// </summary>
internal sealed class StageWorkerActor : ReceiveActor
{
    public const string Name = "llm-stage-worker";

    /// <summary>Why this worker node left the cluster by itself (<see cref="CoordinatedShutdown.ShutdownReason"/>).</summary>
    public sealed class Left(string why) : CoordinatedShutdown.Reason
    {
        public string Why { get; } = why;
        public override int ExitCode => 1;
    }

    /// <summary>The head left the cluster: this node's ActorSystem stops, and <see cref="WorkerNode"/> joins the next head.</summary>
    public sealed class HeadGone : CoordinatedShutdown.Reason
    {
        public override int ExitCode => 0;
    }

    private readonly Action<string> _log;

    private WorkerStage? _stage;
    // A tensor-parallel rank of a stage split across nodes: its all-reduce and its rank (only rank 0 returns the output).
    private SocketAllReduce? _group;
    private TensorShard? _shard;
    private int _rank;

    public static Props Props(string? model, string device, Action<string> log) =>
        Akka.Actor.Props.Create(() => new StageWorkerActor(model, device, log)).WithDispatcher(WorkerActor.Dispatcher);

    public StageWorkerActor(string? model, string device, Action<string> log)
    {
        _log = log;
        Receive<StageAssignment>(assignment =>
        {
            Unload();
            // The head holds the final norm and the LM head: a last stage here returns its sample rows' hidden states.
            var stage = PipelineStage.Of(assignment.Stage, assignment.Stages) with { HeadOnFirst = true };
            string? fingerprint = null;
            try
            {
                var options = Options(assignment.Settings, model, device);
                fingerprint = ModelFingerprint.Of(options.Model, options.LoadFormat);
                string rank = "";
                if (assignment.Ranks > 1)
                {
                    // One rank by itself, on this node's every core; rank 0 (on the head for stage 0) holds the LM head.
                    (_group, _rank) = (new SocketAllReduce(assignment.Rank, assignment.Ranks, Akka.Cluster.Cluster.Get(Context.System).SelfAddress.Host!), assignment.Rank);
                    _shard = new TensorShard(assignment.Rank, assignment.Ranks, _group) { HeadOnRankZero = true };
                    _stage = Worker.Rank(options, stage, _shard);
                    rank = $"tensor-parallel rank {assignment.Rank} of {assignment.Ranks} of ";
                }
                else _stage = Worker.Stage(options, stage);
                var (first, count) = stage.LayersOf(_stage.Model.Config.NumLayers);
                string description = $"{rank}stage {stage.Index} of {stage.Size} (layers {first}-{first + count - 1}) of {_stage.Model.Description}";
                log($"loaded {description}; KV cache: {_stage.Blocks.Device} blocks, swap {_stage.Blocks.Swap}" +
                    (_group is null ? "" : $"; all-reduce listening on {_group.Endpoint}"));
                Sender.Tell(new StageReady(assignment.Stage, description, fingerprint, _group?.Endpoint));
            }
            catch (Exception error)
            {
                Unload();
                Sender.Tell(new StageLoadFailed(assignment.Stage, error.Message, fingerprint));
                Leave($"cannot load stage {assignment.Stage} of {assignment.Stages}: {error.Message}");
            }
        });
        // A head that left (stopped) does not come back in this cluster; a new head starts a new one.
        Receive<ClusterEvent.CurrentClusterState>(_ => { });
        Receive<ClusterEvent.MemberRemoved>(removed =>
        {
            if (!removed.Member.HasRole(StageHocon.HeadRole)) return;
            Unload();
            log($"the head {removed.Member.Address} left the cluster");
            CoordinatedShutdown.Get(Context.System).Run(new HeadGone());
        });
        Receive<RankGroup>(group => _group?.Connect(group.Endpoints, group.Generation, TimeSpan.FromSeconds(group.TimeoutSeconds)));
        Receive<StageRefused>(refused =>
        {
            Unload();
            Leave(refused.Reason);
        });
        Receive<StageStep>(wire =>
        {
            if (_stage is null)
            {
                Sender.Tell(new StageStepFailed(wire.Step, "this worker has no stage loaded"));
                return;
            }
            try
            {
                long started = Stopwatch.GetTimestamp();
                var before = (_shard?.CommunicationSeconds ?? 0, _shard?.BytesReduced ?? 0, _shard?.AllReduces ?? 0);
                using var hidden = wire.Hidden is null ? null : StageWire.Tensor(wire.Hidden);
                using var output = _stage.Runner.Forward(StageWire.Step(wire), hidden);
                // The ranks of a split stage hold equal hidden states after its last all-reduce: rank 0's go on.
                var result = output is null || _rank != 0 ? null : StageWire.Tensor(output);
                Sender.Tell(new StageStepDone(wire.Step, result, Stopwatch.GetElapsedTime(started).TotalSeconds,
                    (_shard?.CommunicationSeconds ?? 0) - before.Item1, (_shard?.BytesReduced ?? 0) - before.Item2, (_shard?.AllReduces ?? 0) - before.Item3));
            }
            catch (Exception error)
            {
                // The other ranks must not wait for this one's partial sums.
                _group?.Abort($"rank {_rank} failed: {error.Message}");
                Sender.Tell(new StageStepFailed(wire.Step, error.Message));
            }
        });
    }

    /// <summary>The head's settings, with this node's own model copy and device when it has them.</summary>
    private static WorkerOptions Options(StageSettings settings, string? model, string device) => new()
    {
        Model = model ?? settings.Model,
        LoadFormat = settings.LoadFormat,
        DType = settings.DType,
        Quantization = settings.Quantization,
        Device = device,
        BlockSize = settings.BlockSize,
        Seed = settings.Seed,
        TensorParallelSize = settings.TensorParallelSize,
        AttentionBackend = settings.AttentionBackend,
        MaxModelLength = settings.MaxModelLength,
        NumBlocks = settings.NumBlocks,
        SwapSpaceGiB = settings.SwapSpaceGiB,
        PreemptionMode = Enum.Parse<PreemptionMode>(settings.PreemptionMode),
        KvCacheDType = settings.KvCacheDType,
    };

    private void Unload()
    {
        _stage?.Resources.Dispose();
        _group?.Dispose();
        (_stage, _group, _shard, _rank) = (null, null, null, 0);
    }

    private void Leave(string why)
    {
        _log($"error: {why}; leaving the cluster");
        CoordinatedShutdown.Get(Context.System).Run(new Left(why));
    }

    // No children; stated because every actor says how it supervises.
    protected override SupervisorStrategy SupervisorStrategy() => new OneForOneStrategy(_ => Directive.Stop);

    // Both handlers catch their errors; one that escapes is a bug, after which the stage is not to be
    // trusted: the node leaves (the head reassigns the stage) rather than restart without it.
    protected override void PreRestart(Exception reason, object message)
    {
        Unload();
        Leave($"the stage worker failed: {reason.Message}");
    }

    protected override void PreStart() => Akka.Cluster.Cluster.Get(Context.System).Subscribe(Self, typeof(ClusterEvent.MemberRemoved));

    protected override void PostStop()
    {
        Akka.Cluster.Cluster.Get(Context.System).Unsubscribe(Self);
        Unload();
    }
}
