using System.Collections.Concurrent;
using Akka.Actor;
using LlmEngine.Actors.Distributed;
using LlmEngine.Actors.Engine;
using LlmEngine.Contracts;
using LlmEngine.Kernels.Loading;
using LlmEngine.Kernels.Sampling;
using LlmEngine.Tests.Cluster;
using LlmEngine.Tests.Loading;
using LlmEngine.Tests.Models;
using static LlmEngine.Tests.Sharding.TensorParallelEngineTests;

namespace LlmEngine.Tests.Distributed;

/// <summary>
/// A head over stories260K in two stages, stage 1 on worker nodes (ActorSystems of this process on
/// loopback, or an <c>llm-engine worker</c> process): requests wait while the stage has no worker and run on its replacement; a worker that
/// cannot load its stage, or whose model copy differs from the head's, leaves the cluster; a worker
/// that drops a step is counted lost within the step timeout.
/// </summary>
[Trait("Category", "Slow")]
public class StageLossTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);
    private static IReadOnlyList<Stories260KReferenceTests.Row> Rows => Stories260KReferenceTests.Rows;

    private static Task<int[]> Greedy(InferenceEngine engine, string id, int row) =>
        Tokens(engine, id, Rows[row].PromptIds, new SamplingParameters { Temperature = 0, MaxTokens = Rows[row].Generated.Length });

    [Fact]
    public async Task QueuedAndNewRequestsWaitForAReplacementWorkerAndRunOnIt()
    {
        var options = WorkerNodes.Head(SharedModels.Stories260K, 2) with { MaxNumSeqs = 1 };
        // The first worker is a process killed outright: from then on no step completes, so what is queued stays queued.
        var (engine, first) = await WorkerNodes.Start(options, WorkerProcess.Start);
        using var killed = first[0];
        ActorSystem? second = null;
        try
        {
            // A long stream holds the one seat; another request queues behind it.
            int tokens = 0;
            var stream = Task.Run(async () =>
            {
                var request = new GenerationRequest("long", Rows[0].PromptIds, new SamplingParameters { Temperature = 0, MaxTokens = 200, IgnoreEos = true });
                await foreach (var output in engine.GenerateAsync(request)) Interlocked.Add(ref tokens, output.Deltas.Sum(d => d.TokenIds.Count));
            });
            await ClusterNode.Eventually(() => Volatile.Read(ref tokens) >= 3, "the long stream runs");
            var queued = Greedy(engine, "queued", 1);

            killed.Signal("KILL");
            await ClusterNode.Eventually(() => engine.UnavailableReason is not null, "the head sees stage 1 go", seconds: Bound.TotalSeconds);
            Assert.Contains("pipeline stage 1 of 2 (layers 3-4) was lost", engine.UnavailableReason);
            var fresh = Greedy(engine, "fresh", 2);
            await Task.Delay(500);
            Assert.False(queued.IsCompleted || fresh.IsCompleted,
                $"requests wait while stage 1 has no worker: {queued.Exception?.InnerException?.Message} {fresh.Exception?.InnerException?.Message}");

            second = WorkerNodes.InProcess(options.ClusterPort);
            Assert.Equal(Rows[1].Generated, await queued.WaitAsync(Bound));
            Assert.Equal(Rows[2].Generated, await fresh.WaitAsync(Bound));
            await Assert.ThrowsAsync<RequestFailedException>(() => stream);
            await ClusterNode.AllBlocksFree(engine);
        }
        finally
        {
            await engine.DisposeAsync();
            if (second is not null) await second.Terminate();
        }
    }

    [Fact]
    public async Task AWorkerThatCannotLoadItsStageLeavesTheClusterAndTheNextTakesTheStage()
    {
        var options = WorkerNodes.Head(SharedModels.Stories260K, 2);
        var log = new ConcurrentQueue<string>();
        var head = Task.Run(() => InferenceEngine.Start(options, log: log.Enqueue));
        var broken = WorkerNodes.InProcess(options.ClusterPort, StageWorkerActor.Props("/no/such/model", "cpu", _ => { }));
        Assert.True(await Task.WhenAny(broken.WhenTerminated, Task.Delay(Bound)) == broken.WhenTerminated, "the worker leaves the cluster");
        Assert.IsType<StageWorkerActor.Left>(CoordinatedShutdown.Get(broken).ShutdownReason);
        await AServingHeadWithANewWorker(options, head, log, "could not load pipeline stage 1: /no/such/model");
    }

    [Fact]
    public async Task AWorkerWithAnotherModelIsRefusedAndLeavesTheCluster()
    {
        var options = WorkerNodes.Head(SharedModels.Stories260K, 2);
        var log = new ConcurrentQueue<string>();
        var head = Task.Run(() => InferenceEngine.Start(options, log: log.Enqueue));
        var other = WorkerNodes.InProcess(options.ClusterPort, StageWorkerActor.Props(SharedModels.TinyHf("llama"), "cpu", _ => { }));
        Assert.True(await Task.WhenAny(other.WhenTerminated, Task.Delay(Bound)) == other.WhenTerminated, "the refused worker leaves the cluster");
        await AServingHeadWithANewWorker(options, head, log, "its model copy differs from the head's");
    }

    /// <summary>A stage actor that loads nothing and answers no step.</summary>
    private sealed class Deaf : ReceiveActor
    {
        public Deaf(string fingerprint)
        {
            Receive<StageAssignment>(a => Sender.Tell(new StageReady(a.Stage, "a stage that answers no step", fingerprint)));
            Receive<StageStep>(_ => { });
        }
    }

    [Fact]
    public async Task AWorkerThatDropsAStepIsCountedLostWithinTheStepTimeout()
    {
        var options = WorkerNodes.Head(SharedModels.Stories260K, 2) with { StageStepTimeoutSeconds = 1 };
        string fingerprint = ModelFingerprint.Of(options.Model, options.LoadFormat);
        var (engine, deaf) = await WorkerNodes.Start(options, port => WorkerNodes.InProcess(port, Props.Create(() => new Deaf(fingerprint))));
        ActorSystem? second = null;
        try
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            await Assert.ThrowsAsync<RequestFailedException>(() => Greedy(engine, "dropped", 0).WaitAsync(Bound));
            Assert.InRange(clock.Elapsed.TotalSeconds, 0.9, 10);
            Assert.Contains("did not answer step 1 within 1 s", engine.UnavailableReason);
            Assert.True(await Task.WhenAny(deaf[0].WhenTerminated, Task.Delay(Bound)) == deaf[0].WhenTerminated, "the head downs the silent node");

            second = WorkerNodes.InProcess(options.ClusterPort);
            Assert.Equal(Rows[0].Generated, await Greedy(engine, "after", 0).WaitAsync(Bound));
        }
        finally
        {
            await engine.DisposeAsync();
            await deaf[0].Terminate();
            if (second is not null) await second.Terminate();
        }
    }

    // The stage still waits for a worker: a good one joins, takes it, and the head starts and serves.
    private static async Task AServingHeadWithANewWorker(EngineOptions options, Task<InferenceEngine> head, ConcurrentQueue<string> log, string logged)
    {
        var good = WorkerNodes.InProcess(options.ClusterPort);
        try
        {
            await using var engine = await head.WaitAsync(Bound);
            Assert.Equal(Rows[0].Generated, await Greedy(engine, "r0", 0));
            Assert.Contains(log, line => line.StartsWith("error:") && line.Contains(logged));
        }
        finally
        {
            await good.Terminate();
        }
    }
}
