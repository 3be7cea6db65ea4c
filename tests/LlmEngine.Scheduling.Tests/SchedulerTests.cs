using LlmEngine.Scheduling.Sequences;
using static LlmEngine.Scheduling.Tests.SchedulerRun;

namespace LlmEngine.Scheduling.Tests;

/// <summary>The scheduler without a model, in the manner of vLLM's test_scheduler.py: each test
/// schedules, feeds made-up samples and asserts the queues, the blocks and the step record.</summary>
public class SchedulerTests
{
    [Fact]
    public void AdmitsFirstComeFirstServedAndChunksTheLastPromptIntoWhatTheBudgetLeaves()
    {
        var run = new SchedulerRun(maxNumBatchedTokens: 10);
        run.Add("a", 6);
        run.Add("b", 6);

        var first = run.Schedule();
        Assert.Equal(["a", "b"], first.Admitted);
        Assert.Equal(new Dictionary<string, int> { ["a"] = 6, ["b"] = 4 }, run.TokensByRequest());
        Assert.Equal(["a", "b"], Ids(run.Scheduler.Running));
        Assert.Empty(run.Scheduler.Waiting);
        Assert.Equal(16 - 3, run.Cache.NumFreeBlocks);
        // Only a finished its prompt: only a samples.
        Assert.Equal("a", Assert.Single(run.Samples).Group.RequestId);

        run.Sample();
        var second = run.Schedule();
        Assert.Empty(second.Admitted);
        Assert.Equal(new Dictionary<string, int> { ["a"] = 1, ["b"] = 2 }, run.TokensByRequest());
        Assert.Equal(16 - 4, run.Cache.NumFreeBlocks);
        Assert.Equal(2, run.Samples.Count);
    }

    [Fact]
    public void AdmitsNoMoreSequencesThanSeats()
    {
        var run = new SchedulerRun(maxNumSeqs: 1);
        run.Add("a", 4);
        run.Add("b", 4);

        Assert.Equal(["a"], run.Schedule().Admitted);
        Assert.Equal(["b"], Ids(run.Scheduler.Waiting));
    }

    [Fact]
    public void AdmissionStopsAtTheFirstRequestWhoseBlocksDoNotFit()
    {
        var run = new SchedulerRun(blocks: 4);
        run.Add("a", 12);
        run.Add("b", 8);
        run.Add("c", 2);

        var output = run.Schedule();

        // c would fit in the one block left, but does not overtake b.
        Assert.Equal(["a"], output.Admitted);
        Assert.Equal(["b", "c"], Ids(run.Scheduler.Waiting));
        Assert.Equal(1, run.Cache.NumFreeBlocks);
    }

    [Fact]
    public void ChunkedPrefillComputesALongPromptOverStepsAndSamplesOnlyAfterItsLastChunk()
    {
        var run = new SchedulerRun(maxNumBatchedTokens: 4);
        var a = run.Add("a", 10);
        var computed = new List<int>();
        var rows = new List<int>();
        for (int step = 0; step < 3; step++)
        {
            var output = run.Schedule();
            var work = Assert.Single(output.Scheduled);
            computed.Add(work.NumComputed);
            rows.Add(run.Samples.Count);
        }
        Assert.Equal([0, 4, 8], computed);
        Assert.Equal([0, 0, 1], rows);
        Assert.Equal(10, a.Sequences[0].NumComputed);

        run.Sample(9);
        var decode = Assert.Single(run.Schedule().Scheduled);
        Assert.Equal((10, 1), (decode.NumComputed, decode.NumNew));
    }

    [Fact]
    public void RecomputePreemptionFreesTheLatestArrivalsBlocksAndReadmitsItWithItsOutput()
    {
        var run = new SchedulerRun(blocks: 6);
        run.Add("a", 8);
        run.Add("b", 8);
        var c = run.Add("c", 8);
        run.Schedule();
        Assert.Equal(0, run.Cache.NumFreeBlocks);
        run.Sample();

        // a's ninth token needs a block: the latest arrival, c, gives up its two; a and b take one each.
        var output = run.Schedule();
        Assert.Equal(["c"], output.PreemptedByRecompute);
        Assert.Empty(output.SwappedOut);
        Assert.Equal(new Dictionary<string, int> { ["a"] = 1, ["b"] = 1 }, run.TokensByRequest());
        Assert.Equal(["a", "b"], Ids(run.Scheduler.Running));
        Assert.Equal(["c"], Ids(run.Scheduler.Waiting));
        Assert.Equal((0, 1, SequenceStatus.Waiting), (c.Sequences[0].NumComputed, c.NumPreemptions, c.Status));
        Assert.Equal([7], c.Sequences[0].OutputTokenIds);
        Assert.Equal(0, run.Cache.NumFreeBlocks);

        run.Sample();
        run.Scheduler.Finish("a", null, "abort");
        run.Scheduler.Finish("b", null, "abort");
        // c comes back and recomputes its prompt and the token it had generated.
        var back = run.Schedule();
        Assert.Equal(["c"], back.Admitted);
        Assert.Equal(new Dictionary<string, int> { ["c"] = 9 }, run.TokensByRequest());
        // The worker kept c's tokens; its blocks are all new.
        var readmitted = Assert.Single(back.Scheduled);
        Assert.Equal((0, 3), (readmitted.KeptBlocks, readmitted.NewBlockIds.Length));
        Assert.Empty(back.NewRequests);
        Assert.Single(run.Samples);
        Assert.Equal(6 - 3, run.Cache.NumFreeBlocks);
    }

    [Fact]
    public void SwapPreemptionMovesTheVictimsBlocksToTheHostAndBringsThemBackWhenThereIsRoom()
    {
        var run = new SchedulerRun(blocks: 4, swapBlocks: 4, preemption: PreemptionMode.Swap);
        run.Add("a", 8);
        var b = run.Add("b", 8);
        run.Schedule();
        run.Sample();

        var output = run.Schedule();
        Assert.Equal(["b"], output.SwappedOut);
        Assert.Empty(output.PreemptedByRecompute);
        Assert.Equal(2, output.CacheOperations.SwapOut.Count);
        Assert.Equal(["b"], Ids(run.Scheduler.Swapped));
        Assert.Equal((8, 0, SequenceStatus.Swapped), (b.Sequences[0].NumComputed, b.NumPreemptions, b.Status));
        Assert.Equal(2, run.Cache.NumFreeSwapBlocks);

        run.Sample();
        run.Scheduler.Finish("a", null, "abort");
        var back = run.Schedule();
        Assert.Equal(["b"], back.SwappedIn);
        Assert.Equal(2, back.CacheOperations.SwapIn.Count);
        // Swapped in, it goes on from where it was: one token, not its prompt again.
        Assert.Equal(new Dictionary<string, int> { ["b"] = 1 }, run.TokensByRequest());
        Assert.Equal(["b"], Ids(run.Scheduler.Running));
        Assert.Equal(4, run.Cache.NumFreeSwapBlocks);
    }

    [Fact]
    public void AfterPartOfTheCacheIsLostRunningAndSwappedRequestsRecomputeWithoutPrefixHits()
    {
        var run = new SchedulerRun(blocks: 4, swapBlocks: 4, preemption: PreemptionMode.Swap, prefixCaching: true);
        var a = run.Add("a", 8);
        var b = run.Add("b", 8);
        run.Schedule();
        run.Sample();
        Assert.Equal(["b"], run.Schedule().SwappedOut);
        run.Sample();

        // A pipeline stage came back on a new worker with an empty cache.
        run.Scheduler.ForgetComputed();
        Assert.Equal(["a", "b"], Ids(run.Scheduler.Waiting));
        Assert.Equal((0, 0), (a.Sequences[0].NumComputed, b.Sequences[0].NumComputed));
        Assert.Equal((4, 4), (run.Cache.NumFreeBlocks, run.Cache.NumFreeSwapBlocks));

        // a's full blocks were cached before; now its prompt and both generated tokens are computed again.
        run.Schedule();
        var work = Assert.Single(run.Of("a"));
        Assert.Equal((0, 10), (work.NumComputed, work.NumNew));
        Assert.Equal(0, b.NumPreemptions);
    }

    [Fact]
    public void APromptWhoseFullBlocksAreCachedComputesOnlyItsNewTokensOnSharedBlocks()
    {
        var run = new SchedulerRun(prefixCaching: true);
        var prompt = Enumerable.Range(100, 9).ToArray();
        run.Add("a", prompt);
        run.Schedule();
        run.Sample();

        var b = run.Add("b", [.. prompt[..8], 500, 501]);
        var output = run.Schedule();

        var work = Assert.Single(run.Of("b"));
        Assert.Equal((8, 2), (work.NumComputed, work.NumNew));
        var aTable = run.Table(run.Of("a")[0].SequenceId);
        Assert.Equal(aTable[..2], run.Table(work.SequenceId)[..2]);
        Assert.Equal(b.RequestId, Assert.Single(output.NewRequests).RequestId);
        Assert.All(aTable[..2], block => Assert.Equal(2, run.Cache.RefCount(block)));
        Assert.Equal((9L + 10, 8L), (output.Usage.PrefixQueries, output.Usage.PrefixHits));
    }

    [Fact]
    public void ParallelSamplesForkOffThePromptAndCopyTheSharedLastBlockOnTheirFirstWrite()
    {
        var run = new SchedulerRun();
        var a = run.Add("a", 6, new CompletionTerms { N = 2, MaxTokens = 4 });
        run.Schedule();
        Assert.Equal([0, 1], run.Samples.Select(s => s.Index));
        var events = run.Sample(s => Token(s.Index == 0 ? 7 : 8));
        Assert.Equal([(0, 7), (1, 8)], events.Select(e => (e.Index, e.Token!.TokenId)));
        Assert.Equal(2, a.Sequences.Count);

        var output = run.Schedule();
        var tables = output.Scheduled.Select(s => run.Table(s.SequenceId)).ToList();
        Assert.Equal(2, tables.Count);
        // The worker hears of the fork, then of each one's token and of the parent's replaced block.
        var parent = a.Sequences[0].Id;
        var child = a.Sequences[1].Id;
        Assert.Equal(new SequenceFork(parent, child, 1), Assert.Single(output.Forks));
        Assert.Equal([(parent, 7, 1, 1), (child, 8, 2, 0)],
            output.Scheduled.Select(s => (s.SequenceId, Assert.Single(s.NewTokenIds), s.KeptBlocks, s.NewBlockIds.Length)));
        // The prompt's full block stays shared; the partial one each writes into is copied once.
        Assert.Equal(tables[0][0], tables[1][0]);
        Assert.NotEqual(tables[0][1], tables[1][1]);
        Assert.Equal((tables[1][1], tables[0][1]), Assert.Single(output.CacheOperations.Copies));
        Assert.Equal(2, run.Cache.RefCount(tables[0][0]));
        Assert.Equal(16 - 3, run.Cache.NumFreeBlocks);
    }

    [Fact]
    public void BeamsAdvanceTogetherAndFinishWithTheBestHypothesesFirst()
    {
        var run = new SchedulerRun();
        var a = run.Add("a", 5, new CompletionTerms { N = 2, UseBeamSearch = true, MaxTokens = 2 });
        run.Schedule();
        Assert.Empty(run.Sample(_ => Token(10, -0.1f, new(10, -0.1f), new(11, -0.2f), new(12, -1f), new(13, -2f))));
        Assert.Equal(2, a.Unfinished.Count());

        var output = run.Schedule();
        Assert.Equal(2, output.Scheduled.Count);
        Assert.Single(output.CacheOperations.Copies);
        var events = run.Sample(s => s.Sequence.OutputTokenIds[0] == 10
            ? Token(20, -0.5f, new(20, -0.5f), new(21, -3f), new(22, -4f), new(23, -5f))
            : Token(30, -0.1f, new(30, -0.1f), new(31, -3f), new(32, -4f), new(33, -5f)));

        var beams = Assert.Single(events).Beams!;
        Assert.Equal([[11, 30], [10, 20]], beams.Select(b => b.Tokens.ToArray()));
        Assert.Null(run.Scheduler.Find("a"));
        run.Schedule();
        Assert.Equal(16, run.Cache.NumFreeBlocks);
    }

    [Fact]
    public void AStepRecordSendsARequestOnceAndThenOnlyWhatChanged()
    {
        var run = new SchedulerRun();
        var a = run.Add("a", 8);
        long id = a.Sequences[0].Id;
        var first = run.Schedule();
        var sent = Assert.Single(first.NewRequests);
        Assert.Equal(("a", id, 8), (sent.RequestId, sent.FirstSequenceId, sent.PromptTokenIds.Count));
        var work = Assert.Single(first.Scheduled);
        Assert.Equal((0, 8, 0, 0), (work.NumComputed, work.NumNew, work.NewTokenIds.Length, work.KeptBlocks));
        Assert.Equal(run.Table(id), work.NewBlockIds);

        run.Sample(7);
        run.Add("b", 3);
        var second = run.Schedule();
        Assert.Equal("b", Assert.Single(second.NewRequests).RequestId);
        // a's ninth token opens a third block: a carries its new token and that block only.
        var decode = Assert.Single(run.Of("a"));
        Assert.Equal((8, 1, 2), (decode.NumComputed, decode.NumNew, decode.KeptBlocks));
        Assert.Equal([7], decode.NewTokenIds);
        Assert.Equal([run.Table(id)[2]], decode.NewBlockIds);

        run.Sample(9);
        run.Scheduler.Finish("b", null, "abort");
        var third = run.Schedule();
        Assert.Empty(third.NewRequests);
        Assert.Equal([run.Of("a")[0].SequenceId], third.Scheduled.Select(s => s.SequenceId));
        Assert.Equal([9], third.Scheduled[0].NewTokenIds);
        Assert.Empty(third.Scheduled[0].NewBlockIds);
        // The worker drops b's sequence with this step.
        Assert.Equal([id + 1], third.FinishedSequenceIds);
    }

    [Fact]
    public void AnAbortedRequestLeavesTheQueuesAtOnceAndItsBlocksAtTheNextStep()
    {
        var run = new SchedulerRun();
        run.Add("a", 6);
        run.Schedule();
        run.Sample();

        run.Scheduler.Finish("a", null, "abort");
        Assert.Null(run.Scheduler.Find("a"));
        Assert.Empty(run.Scheduler.Running);
        Assert.Equal(16 - 2, run.Cache.NumFreeBlocks);
        Assert.True(run.Scheduler.HasWork);

        Assert.True(run.Schedule().IsEmpty);
        Assert.Equal(16, run.Cache.NumFreeBlocks);
        Assert.False(run.Scheduler.HasWork);
    }

    [Fact]
    public void StaticBatchingAdmitsNothingWhileARequestRuns()
    {
        var run = new SchedulerRun(batching: BatchingMode.Static);
        run.Add("a", 4, new CompletionTerms { MaxTokens = 1 });
        run.Schedule();
        run.Add("b", 4);
        run.Sample();
        // a ended with its one token, so b starts; had a still run, b would have waited.
        Assert.Equal(["b"], run.Schedule().Admitted);

        run.Add("c", 4);
        run.Sample();
        Assert.Empty(run.Schedule().Admitted);
        Assert.Equal(["c"], Ids(run.Scheduler.Waiting));
    }

    [Fact]
    public void SamplesEndACompletionOnEndOfSequenceOrAtMaxTokens()
    {
        var run = new SchedulerRun();
        run.Add("eos", 4);
        run.Add("length", 4, new CompletionTerms { MaxTokens = 2 });
        run.Schedule();
        Assert.Equal([("eos", "stop"), ("length", null)],
            run.Sample(s => Token(s.Group.RequestId == "eos" ? Eos : 7)).Select(e => (e.Group.RequestId, e.FinishReason)));
        run.Schedule();
        Assert.Equal([("length", "length")], run.Sample().Select(e => (e.Group.RequestId, e.FinishReason)));
        Assert.Empty(run.Scheduler.Groups);
    }
}
