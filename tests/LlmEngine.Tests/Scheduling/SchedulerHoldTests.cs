using System.Threading.Channels;
using Akka.Actor;
using Akka.TestKit;
using LlmEngine.Actors.Engine;
using LlmEngine.Actors.Observing;
using LlmEngine.Actors;
using LlmEngine.Kernels.Runtime;
using LlmEngine.Kernels.Sampling;
using LlmEngine.Scheduling.Blocks;
using LlmEngine.Scheduling;

namespace LlmEngine.Tests.Scheduling;

/// <summary>The scheduler actor while a part of the model is missing (a pipeline stage without its
/// worker node): it sends the worker no step, holds its requests, runs them once the part is back,
/// and fails one with 503 naming the part when its wait is over.</summary>
public class SchedulerHoldTests : Akka.TestKit.Xunit2.TestKit
{
    private const string Lost = "pipeline stage 1 of 2 (layers 3-4) was lost: worker akka.tcp://llm-engine@127.0.0.1:1 is unreachable";

    private sealed class Gate : IStepGate
    {
        public volatile string? Reason = Lost;
        public long Count;
        public string? Closed => Reason;
        public long Reloads => Interlocked.Read(ref Count);
    }

    private readonly Gate _gate = new();
    private readonly TestProbe _worker;

    public SchedulerHoldTests() => _worker = CreateTestProbe();

    private IActorRef Start(TimeSpan wait)
    {
        var options = new SchedulerOptions(8, 64, 256, PreemptionMode.Recompute, BatchingMode.Continuous, KvLayout.Paged, [2]);
        var probe = _worker.Ref;
        return Sys.ActorOf(SchedulerActor.Props(new Scheduler(options, new KvCacheManager(16, 4, prefixCaching: false)),
            Props.Create(() => new SchedulerActorProtocolTests.Forward(probe)), null, new EngineMeter(), new EngineObserver(() => { }), new EngineHealth(),
            new StepHold(_gate, wait)));
    }

    private static ChannelReader<RequestOutput> Add(IActorRef scheduler, string id)
    {
        var channel = Channel.CreateUnbounded<RequestOutput>();
        scheduler.Tell(new SchedulerActor.AddRequest(new GenerationRequest(id, [100, 101, 102], new SamplingParameters { MaxTokens = 4 }), channel.Writer));
        return channel.Reader;
    }

    [Fact]
    public void NoStepRunsWhileAStageIsMissingAndTheHeldRequestRunsOnceItIsBack()
    {
        var scheduler = Start(TimeSpan.FromSeconds(30));
        Add(scheduler, "a");
        _worker.ExpectNoMsg(TimeSpan.FromMilliseconds(300));

        _gate.Reason = null;
        scheduler.Tell(new SchedulerActor.Recheck());
        Assert.Equal("a", Assert.Single(_worker.ExpectMsg<WorkerActor.ExecuteStep>().Step.NewRequests).RequestId);
    }

    [Fact]
    public async Task AHeldRequestFailsWith503NamingTheStageWhenItsWaitIsOver()
    {
        var scheduler = Start(TimeSpan.FromMilliseconds(300));
        var a = Add(scheduler, "a");
        var error = await Assert.ThrowsAnyAsync<Exception>(async () => await a.ReadAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(5)));
        Assert.Equal(Lost, Assert.IsType<EngineUnavailableException>(error.InnerException ?? error).Reason);
        _worker.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
        var statistics = await scheduler.Ask<EngineStatistics>(new SchedulerActor.GetStatistics(), TimeSpan.FromSeconds(5));
        Assert.Equal((16, 0), (statistics.BlocksFree, statistics.Waiting));
    }

    [Fact]
    public async Task AStageBackWithAnEmptyCacheMakesARunningRequestComputeItsTokensAgain()
    {
        _gate.Reason = null;
        var scheduler = Start(TimeSpan.FromSeconds(30));
        var a = Add(scheduler, "a");
        var batch = new InputBatch(4, [2]);
        var first = _worker.ExpectMsg<WorkerActor.ExecuteStep>().Step;
        var worker = _worker.LastSender;
        Assert.Equal(3, first.NumScheduledTokens);
        // The stage goes while the step runs: it completes, and the next one waits.
        _gate.Reason = Lost;
        var rows = batch.Apply(first).Rows;
        worker.Tell(new WorkerActor.StepExecuted(new StepOutput([.. rows.Select(_ => (SampledToken?)new SampledToken(7, 0, -1, []))],
            new Dictionary<int, Exception>()), rows, 0.01), _worker.Ref);
        Assert.Equal([7], (await a.ReadAsync()).Deltas[0].TokenIds);
        _worker.ExpectNoMsg(TimeSpan.FromMilliseconds(200));

        // It comes back on a new worker whose cache is empty: the prompt and the token are computed again.
        Interlocked.Increment(ref _gate.Count);
        _gate.Reason = null;
        scheduler.Tell(new SchedulerActor.Recheck());
        Assert.Equal(4, _worker.ExpectMsg<WorkerActor.ExecuteStep>().Step.NumScheduledTokens);
    }
}
