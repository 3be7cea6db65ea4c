using Akka.Actor;
using LlmEngine.Actors.Engine;
using LlmEngine.Contracts;
using LlmEngine.Kernels.Loading;
using LlmEngine.Kernels.Runtime;
using LlmEngine.Kernels.Sharding;
using LlmEngine.Kernels.Workers;

namespace LlmEngine.Actors.Distributed;

/// <summary>
/// The head's <see cref="Worker"/> with --distributed-executor-backend cluster: pipeline stage 0
/// here (with --tensor-parallel-across-nodes its rank 0 only, each other rank on a worker node of its
/// own: <see cref="RankGroupRunner"/>), stages 1 to P-1 on worker nodes that join the head's Akka.Cluster and that the head waits
/// for at start (<see cref="StageDirectoryActor"/> assigns them; <see cref="RemoteStageRunner"/> runs
/// each step's part on them). The stages' state is the engine's step gate.
/// </summary>
internal static class ClusteredWorker
{
    /// <param name="system">the head's clustered ActorSystem</param>
    public static (Worker Worker, ClusterStages Stages) Start(EngineOptions options, ActorSystem system, Action<string> log)
    {
        var worker = options.ForWorker();
        int size = options.PipelineParallelSize;
        // With --tensor-parallel-across-nodes every stage is T parts, one rank each (part s x T + r); else one part per stage.
        int ranks = options.TensorParallelAcrossNodes ? options.TensorParallelSize : 1;
        // Stage 0 also holds the final norm and the LM head (HeadOnFirst): the head samples, so the last stage
        // sends back the hidden states of the sample rows (hidden values each) rather than their logits
        // (vocabulary values each: 42x more for llama-110m, 8x for LLaMA-7B), and the head computes the logits.
        // Likewise across nodes the head's rank 0 holds the whole LM head, and no other rank any of it.
        var first = PipelineStage.Of(0, size) with { HeadOnFirst = true };
        var group = ranks > 1 ? new SocketAllReduce(0, ranks, options.ClusterHost) : null;
        var shard = group is null ? null : new TensorShard(0, ranks, group) { HeadOnRankZero = true };
        WorkerStage head;
        try
        {
            head = shard is null ? Worker.Stage(worker, first) : Worker.Rank(worker, first, shard);
        }
        catch
        {
            group?.Dispose();
            throw;
        }
        int layers = head.Model.Config.NumLayers;
        string Describe(int part)
        {
            var (s, r) = (part / ranks, part % ranks);
            var (firstLayer, count) = PipelineStage.Of(s, size).LayersOf(layers);
            string stage = $"pipeline stage {s} of {size} (layers {firstLayer}-{firstLayer + count - 1})";
            return ranks == 1 ? stage : size == 1 ? $"tensor-parallel rank {r} of {ranks} (layers {firstLayer}-{firstLayer + count - 1})" : $"tensor-parallel rank {r} of {ranks} of {stage}";
        }
        var stages = new ClusterStages(size * ranks, Describe, TimeSpan.FromSeconds(options.StageStepTimeoutSeconds));
        var settings = new StageSettings(worker.Model, worker.LoadFormat, worker.DType, worker.Quantization, worker.BlockSize, worker.Seed,
            worker.TensorParallelSize, worker.AttentionBackend, worker.MaxModelLength, head.Blocks.Device, worker.SwapSpaceGiB, worker.PreemptionMode.ToString(),
            worker.KvCacheDType);
        IActorRef directory;
        try
        {
            directory = system.ActorOf(StageDirectoryActor.Props(stages, part => new StageAssignment(part / ranks, size, settings, part % ranks, ranks),
                ModelFingerprint.Of(worker.Model, worker.LoadFormat), log), StageDirectoryActor.Name);
        }
        catch
        {
            head.Resources.Dispose();
            group?.Dispose();
            throw;
        }
        stages.Unresponsive += (node, lost, why) => directory.Tell(new StageDirectoryActor.Unresponsive(node, lost, why));
        var stopping = new Stopping(directory, group);
        try
        {
            WaitForWorkers(options, stages, log);
        }
        catch
        {
            head.Resources.Dispose();
            stopping.Dispose();
            throw;
        }
        if (group is null)
        {
            IStageRunner[] others = [.. Enumerable.Range(1, size - 1).Select(s => new RemoteStageRunner(stages, s)), new HeadStageRunner((IHeadRunner)head.Runner)];
            return (Worker.Over(head, others, stopping), stages);
        }
        var rankZero = (ModelRunner)head.Runner;
        IStageRunner[] later = size == 1 ? []
            : [.. Enumerable.Range(1, size - 1).Select(s => new RankGroupRunner(stages, s, ranks)), new HeadStageRunner(rankZero)];
        return (Worker.Over(head with { Runner = new RankGroupRunner(stages, 0, ranks, rankZero, shard, group) }, later, stopping), stages);
    }

    private static void WaitForWorkers(EngineOptions options, ClusterStages stages, Action<string> log)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        string join = $"{options.ClusterHost}:{options.ClusterPort}";
        string parts = options.TensorParallelAcrossNodes ? $"tensor-parallel ranks ({options.TensorParallelSize} per stage, the head's rank 0 of stage 0 here)"
            : $"pipeline stages 1-{stages.Count - 1}";
        log($"waiting for {stages.Count - 1} worker node(s) to load {parts} (start each with: llm-engine worker --join {join})");
        var nextLine = TimeSpan.FromSeconds(5);
        while (stages.MissingReason is { } missing)
        {
            if (clock.Elapsed.TotalSeconds > options.WorkerTimeoutSeconds)
                throw new TimeoutException($"no worker node within {options.WorkerTimeoutSeconds:0.#} s: {missing} (start one with: llm-engine worker --join {join})");
            if (clock.Elapsed > nextLine)
            {
                log($"still waiting ({clock.Elapsed.TotalSeconds:0} s): {missing}");
                nextLine += TimeSpan.FromSeconds(5);
            }
            Thread.Sleep(50);
        }
        log($"every part of the model has its worker node ({clock.Elapsed.TotalSeconds:0.0} s)");
    }

    private sealed class Stopping(IActorRef actor, IDisposable? group) : IDisposable
    {
        public void Dispose()
        {
            actor.Tell(PoisonPill.Instance);
            group?.Dispose();
        }
    }
}
