using LlmEngine.Actors.Blocks;
using LlmEngine.Actors.Engine;
using LlmEngine.Actors.Scheduling;
using LlmEngine.Actors.Sequences;
using LlmEngine.Actors.Worker;
using LlmEngine.Kernels.Sampling;
using LlmEngine.Tests.Policies;

namespace LlmEngine.Tests.Scheduling;

/// <summary>
/// A scheduler over a small KV cache and no model, driven step by step as vLLM's
/// test_scheduler.py drives its own: schedule, feed made-up samples, look at the queues, the
/// block tables and the step record. The step goes through the worker's <see cref="InputBatch"/>,
/// as in the engine; every step checks the cache's invariants and that the worker's block tables,
/// kept from the step records' changes alone, equal the cache's.
/// </summary>
internal sealed class SchedulerRun
{
    public const int Eos = 2;
    private readonly DateTime _now = new(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc);
    private readonly InputBatch _worker;

    public SchedulerRun(int blocks = 16, int blockSize = 4, int maxNumSeqs = 8, int maxNumBatchedTokens = 64,
        PreemptionMode preemption = PreemptionMode.Recompute, int swapBlocks = 0, bool prefixCaching = false,
        BatchingMode batching = BatchingMode.Continuous, int maxModelLength = 256, int longContextAfter = 0)
    {
        Cache = new KvCacheManager(blocks, blockSize, prefixCaching, swapBlocks);
        _worker = new InputBatch(blockSize, [Eos]);
        Scheduler = new Scheduler(new SchedulerOptions(maxNumSeqs, maxNumBatchedTokens, maxModelLength, preemption, batching, KvLayout.Paged, [Eos], LongContextAfter: longContextAfter), Cache);
    }

    public KvCacheManager Cache { get; }
    public Scheduler Scheduler { get; }
    public SchedulerOutput Output { get; private set; } = null!;
    public IReadOnlyList<StepSample> Samples { get; private set; } = [];

    /// <summary>Adds a request whose prompt is <paramref name="promptLength"/> distinct ids from <paramref name="first"/>.</summary>
    public SequenceGroup Add(string id, int promptLength, SamplingParameters? sampling = null, int first = 100) =>
        Add(id, Tokens.Run(promptLength, first), sampling);

    public SequenceGroup Add(string id, int[] prompt, SamplingParameters? sampling = null) =>
        Scheduler.Add(new GenerationRequest(id, prompt, sampling ?? new SamplingParameters { MaxTokens = 16 }), _now);

    public SchedulerOutput Schedule()
    {
        Output = Scheduler.Schedule(_now);
        Cache.CheckInvariants();
        Samples = [];
        // The engine sends the worker no step that runs nothing.
        if (Output.IsEmpty) return Output;
        var (_, rows) = _worker.Apply(Output);
        Samples = rows.Select(r => Scheduler.Sample(r.SequenceId, r.Index)!.Value).ToList();
        foreach (var s in Output.Scheduled) Assert.Equal(Cache.BlockTable(s.SequenceId), _worker.BlockTable(s.SequenceId));
        return Output;
    }

    /// <summary>Feeds one made-up sample per sample row of the last step.</summary>
    public IReadOnlyList<StepEvent> Sample(Func<StepSample, SampledToken> token) =>
        Scheduler.UpdateFromOutput(Samples, Samples.Select(token).ToList(), _now);

    public IReadOnlyList<StepEvent> Sample(int token = 7) => Sample(_ => Token(token));

    public static SampledToken Token(int id, float logprob = -1f, params TokenLogprob[] top) => new(id, 0, logprob, top);

    /// <summary>Tokens each request computes in the last step, by request id.</summary>
    public Dictionary<string, int> TokensByRequest() =>
        Output.Scheduled.GroupBy(s => RequestOf(s.SequenceId)).ToDictionary(g => g.Key, g => g.Sum(s => s.NumNew));

    public string RequestOf(long sequenceId) => Scheduler.Sample(sequenceId, 0)!.Value.Group.RequestId;

    /// <summary>The last step's sequences of one request, in batch order.</summary>
    public ScheduledSequence[] Of(string requestId) => Output.Scheduled.Where(s => RequestOf(s.SequenceId) == requestId).ToArray();

    public int[] Table(long sequenceId) => Cache.BlockTable(sequenceId).ToArray();

    public static string[] Ids(IEnumerable<SequenceGroup> groups) => groups.Select(g => g.RequestId).ToArray();
}
