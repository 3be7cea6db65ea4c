using LlmEngine.Scheduling.Blocks;
using LlmEngine.Scheduling.Sequences;
using LlmEngine.Scheduling.Tests.Blocks;

namespace LlmEngine.Scheduling.Tests;

/// <summary>
/// A scheduler over a small KV cache and no model, driven step by step as vLLM's
/// test_scheduler.py drives its own: schedule, feed made-up samples, look at the queues, the
/// block tables and the step record. Every step checks the cache's invariants, and that what a
/// worker holds when it keeps each sequence's tokens and block table from the step records'
/// changes alone (as the engine's InputBatch does) equals what the scheduler and the cache hold.
/// </summary>
internal sealed class SchedulerRun
{
    public const int Eos = 2;
    private readonly DateTime _now = new(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc);
    // The worker's view: each sequence's tokens and block table, from the step records alone.
    private readonly Dictionary<long, (List<int> Tokens, List<int> Table)> _worker = new();

    public SchedulerRun(int blocks = 16, int blockSize = 4, int maxNumSeqs = 8, int maxNumBatchedTokens = 64,
        PreemptionMode preemption = PreemptionMode.Recompute, int swapBlocks = 0, bool prefixCaching = false,
        BatchingMode batching = BatchingMode.Continuous, int maxModelLength = 256, int longContextAfter = 0)
    {
        Cache = new KvCacheManager(blocks, blockSize, prefixCaching, swapBlocks);
        Scheduler = new Scheduler(new SchedulerOptions(maxNumSeqs, maxNumBatchedTokens, maxModelLength, preemption, batching, KvLayout.Paged, [Eos], LongContextAfter: longContextAfter), Cache);
    }

    public KvCacheManager Cache { get; }
    public Scheduler Scheduler { get; }
    public SchedulerOutput Output { get; private set; } = null!;
    public IReadOnlyList<StepSample> Samples { get; private set; } = [];

    /// <summary>Adds a request whose prompt is <paramref name="promptLength"/> distinct ids from <paramref name="first"/>.</summary>
    public SequenceGroup Add(string id, int promptLength, CompletionTerms? terms = null, int first = 100) =>
        Add(id, Tokens.Run(promptLength, first), terms);

    public SequenceGroup Add(string id, int[] prompt, CompletionTerms? terms = null) =>
        Scheduler.Add(new Request(id, prompt, terms ?? new CompletionTerms { MaxTokens = 16 }), _now);

    private sealed record Request(string RequestId, IReadOnlyList<int> PromptTokenIds, CompletionTerms Terms) : IScheduledRequest;

    public SchedulerOutput Schedule()
    {
        Output = Scheduler.Schedule(_now);
        Cache.CheckInvariants();
        Samples = [];
        // The engine sends the worker no step that runs nothing.
        if (Output.IsEmpty) return Output;
        ApplyToWorker(Output);
        Samples = Output.SampleRows.Select(r => Scheduler.Sample(r.SequenceId, r.Index)!.Value).ToList();
        foreach (var s in Output.Scheduled)
        {
            Assert.Equal(Scheduler.Sample(s.SequenceId, 0)!.Value.Sequence.AllTokens(), _worker[s.SequenceId].Tokens);
            Assert.Equal(Cache.BlockTable(s.SequenceId), _worker[s.SequenceId].Table);
        }
        return Output;
    }

    // In the order the worker applies a step record: new requests, forks, finished, scheduled.
    private void ApplyToWorker(SchedulerOutput output)
    {
        foreach (var r in output.NewRequests) _worker[r.FirstSequenceId] = ([.. r.PromptTokenIds], []);
        foreach (var f in output.Forks) _worker[f.Child] = ([.. _worker[f.Parent].Tokens], [.. _worker[f.Parent].Table]);
        foreach (var id in output.FinishedSequenceIds) _worker.Remove(id);
        foreach (var s in output.Scheduled)
        {
            var (tokens, table) = _worker[s.SequenceId];
            tokens.AddRange(s.NewTokenIds);
            table.RemoveRange(s.KeptBlocks, table.Count - s.KeptBlocks);
            table.AddRange(s.NewBlockIds);
        }
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
