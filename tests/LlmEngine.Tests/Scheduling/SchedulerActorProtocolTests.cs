using System.Diagnostics;
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

/// <summary>The scheduler actor's messages with a probe in the worker's place: one step out and
/// one answer back per step whatever the batch, and a failed step fails only its requests.</summary>
public class SchedulerActorProtocolTests : Akka.TestKit.Xunit2.TestKit
{
    internal sealed class Forward(IActorRef to) : UntypedActor
    {
        protected override void OnReceive(object message) => to.Forward(message);
    }

    private readonly TestProbe _worker;
    // The probe stands in for the worker; this applies the steps it receives, as the worker would.
    private readonly InputBatch _batch = new(4, [2]);
    private readonly IActorRef _scheduler;

    public SchedulerActorProtocolTests()
    {
        _worker = CreateTestProbe();
        var options = new SchedulerOptions(8, 64, 256, PreemptionMode.Recompute, BatchingMode.Continuous, KvLayout.Paged, [2]);
        var scheduler = new Scheduler(options, new KvCacheManager(16, 4, prefixCaching: false));
        var probe = _worker.Ref;
        _scheduler = Sys.ActorOf(SchedulerActor.Props(scheduler, Props.Create(() => new Forward(probe)), null,
            new EngineMeter(), new EngineObserver(() => { }), new EngineHealth()));
    }

    private ChannelReader<RequestOutput> Add(string id, int promptLength, int maxTokens = 4)
    {
        var channel = Channel.CreateUnbounded<RequestOutput>();
        _scheduler.Tell(new SchedulerActor.AddRequest(new GenerationRequest(id, Enumerable.Range(100, promptLength).ToArray(),
            new SamplingParameters { MaxTokens = maxTokens }), channel.Writer));
        return channel.Reader;
    }

    private IActorRef _stepSender = ActorRefs.Nobody;

    private (ModelStep Step, IReadOnlyList<SampleRow> Rows) ExpectStep()
    {
        var output = _worker.ExpectMsg<WorkerActor.ExecuteStep>().Step;
        _stepSender = _worker.LastSender;
        return _batch.Apply(output);
    }

    private void Reply(object message) => _stepSender.Tell(message, _worker.Ref);

    private void Answer((ModelStep Step, IReadOnlyList<SampleRow> Rows) step, int token) =>
        Reply(new WorkerActor.StepExecuted(new StepOutput(step.Rows.Select(_ => (SampledToken?)new SampledToken(token, 0, -1, [])).ToArray(),
            new Dictionary<int, Exception>()), step.Rows, 0.01));

    [Fact]
    public async Task EachStepIsOneMessageToTheWorkerWhateverTheBatchAndTokensReachEveryRequest()
    {
        var a = Add("a", 5);
        var first = ExpectStep();
        Assert.Equal(5, first.Step.NumTokens);
        // Requests that arrive while a step runs join the next one: one message, three requests.
        var b = Add("b", 3);
        var c = Add("c", 2);
        _worker.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
        Answer(first, 7);

        var second = ExpectStep();
        Assert.Equal(1 + 3 + 2, second.Step.NumTokens);
        Assert.Equal(3, second.Rows.Count);
        _worker.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
        Answer(second, 8);

        Assert.Equal([7], (await a.ReadAsync()).Deltas[0].TokenIds);
        Assert.Equal([8], (await a.ReadAsync()).Deltas[0].TokenIds);
        Assert.Equal([8], (await b.ReadAsync()).Deltas[0].TokenIds);
        Assert.Equal([8], (await c.ReadAsync()).Deltas[0].TokenIds);
        Assert.Equal(3, ExpectStep().Step.NumTokens);
    }

    [Fact]
    public async Task AFailedStepFailsItsRequestsAndTheLoopGoesOnWithTheNextOne()
    {
        var a = Add("a", 4);
        var step = ExpectStep();
        var b = Add("b", 3, maxTokens: 1);
        Reply(new WorkerActor.StepFailed(new InvalidOperationException("forward pass broke")));

        var error = await Assert.ThrowsAnyAsync<Exception>(async () => await a.ReadAsync());
        Assert.IsType<RequestFailedException>(error.InnerException ?? error);
        var next = ExpectStep();
        Assert.Equal(3, next.Step.NumTokens);
        Answer(next, 9);
        Assert.Equal([9], (await b.ReadAsync()).Deltas[0].TokenIds);
        // Answered at the step boundary: b ended with its one token, so nothing runs.
        var invariants = await _scheduler.Ask<SchedulerActor.InvariantsChecked>(new SchedulerActor.CheckInvariants(), TimeSpan.FromSeconds(5));
        Assert.Null(invariants.Violation);
        Assert.Equal(4, step.Step.NumTokens);
    }

    [Fact]
    public async Task AnAbortEndsTheRequestAndFreesItsBlocksAtTheNextStep()
    {
        var a = Add("a", 4, maxTokens: 100);
        Answer(ExpectStep(), 7);
        Assert.Equal([7], (await a.ReadAsync()).Deltas[0].TokenIds);
        var step = ExpectStep();
        _scheduler.Tell(new SchedulerActor.AbortRequest("a"));
        Answer(step, 8);

        _worker.ExpectNoMsg(TimeSpan.FromMilliseconds(200));
        var statistics = await _scheduler.Ask<EngineStatistics>(new SchedulerActor.GetStatistics(), TimeSpan.FromSeconds(5));
        Assert.Equal(16, statistics.BlocksFree);
    }

    [Fact]
    public async Task ARequestArrivesWhenTheEngineAcceptedItSoTimeBeforeTheSchedulerReadItIsQueueing()
    {
        // As if the scheduler's mailbox had held the request for two seconds.
        var accepted = new RequestAcceptance(DateTime.UtcNow.AddSeconds(-2), Stopwatch.GetTimestamp() - 2 * Stopwatch.Frequency);
        var channel = Channel.CreateUnbounded<RequestOutput>();
        _scheduler.Tell(new SchedulerActor.AddRequest(new GenerationRequest("late", [100, 101, 102], new SamplingParameters { MaxTokens = 1 }),
            channel.Writer) { AcceptedAt = accepted });
        Answer(ExpectStep(), 7);

        var final = await channel.Reader.ReadAsync();
        Assert.True(final.Finished);
        Assert.Equal(accepted.Utc, final.Timings!.Arrival);
        Assert.InRange(final.Timings.QueueSeconds, 2, 60);
    }
}
