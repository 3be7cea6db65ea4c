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
/// here, stages 1 to P-1 on worker nodes that join the head's Akka.Cluster and that the head waits
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
        // Stage 0 also holds the final norm and the LM head (HeadOnFirst): the head samples, so the last stage
        // sends back the hidden states of the sample rows (hidden values each) rather than their logits
        // (vocabulary values each: 42x more for llama-110m, 8x for LLaMA-7B), and the head computes the logits.
        var head = Worker.Stage(worker, PipelineStage.Of(0, size) with { HeadOnFirst = true });
        int layers = head.Model.Config.NumLayers;
        string Describe(int s)
        {
            var (first, count) = PipelineStage.Of(s, size).LayersOf(layers);
            return $"pipeline stage {s} of {size} (layers {first}-{first + count - 1})";
        }
        var stages = new ClusterStages(size, Describe, TimeSpan.FromSeconds(options.StageStepTimeoutSeconds));
        var settings = new StageSettings(worker.Model, worker.LoadFormat, worker.DType, worker.Quantization, worker.BlockSize, worker.Seed,
            worker.TensorParallelSize, worker.AttentionBackend, worker.MaxModelLength, head.Blocks.Device, worker.SwapSpaceGiB, worker.PreemptionMode.ToString());
        IActorRef directory;
        try
        {
            directory = system.ActorOf(StageDirectoryActor.Props(stages, s => new StageAssignment(s, size, settings),
                ModelFingerprint.Of(worker.Model, worker.LoadFormat), log), StageDirectoryActor.Name);
        }
        catch
        {
            head.Resources.Dispose();
            throw;
        }
        stages.Unresponsive += (node, lost, why) => directory.Tell(new StageDirectoryActor.Unresponsive(node, lost, why));
        var stopping = new Stopping(directory);
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
        IStageRunner[] others = [.. Enumerable.Range(1, size - 1).Select(s => new RemoteStageRunner(stages, s)), new HeadStageRunner((IHeadRunner)head.Runner)];
        return (Worker.Over(head, others, stopping), stages);
    }

    private static void WaitForWorkers(EngineOptions options, ClusterStages stages, Action<string> log)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        string join = $"{options.ClusterHost}:{options.ClusterPort}";
        log($"waiting for {stages.Count - 1} worker node(s) to load pipeline stages 1-{stages.Count - 1} (start each with: llm-engine worker --join {join})");
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
        log($"every pipeline stage has its worker node ({clock.Elapsed.TotalSeconds:0.0} s)");
    }

    private sealed class Stopping(IActorRef actor) : IDisposable
    {
        public void Dispose() => actor.Tell(PoisonPill.Instance);
    }
}
