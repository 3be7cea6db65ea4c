namespace LlmEngine.Scheduling.Tests;

/// <summary>Phi-3 longrope (switch after 8 tokens here): a sequence whose keys were cached with the
/// short factors recomputes all its tokens once it has more than 8; a long one never does.</summary>
public class LongContextSwitchTests
{
    [Fact]
    public void ASequenceGrowingPastTheSwitchRecomputesEveryTokenOnce()
    {
        var run = new SchedulerRun(longContextAfter: 8);
        run.Add("a", 8);
        run.Schedule();
        run.Sample();                                  // 9 tokens, 8 of them cached short
        var step = run.Schedule();
        Assert.Equal((0, 9), (step.Scheduled[0].NumComputed, step.Scheduled[0].NumNew));
        run.Sample();
        step = run.Schedule();                         // long from now on: a plain decode
        Assert.Equal((9, 1), (step.Scheduled[0].NumComputed, step.Scheduled[0].NumNew));
    }

    [Fact]
    public void ALongPromptComputedInChunksIsNeverRecomputed()
    {
        var run = new SchedulerRun(longContextAfter: 8, maxNumBatchedTokens: 4);
        run.Add("a", 12);
        var computed = new List<(int, int)>();
        for (int i = 0; i < 5; i++)
        {
            var step = run.Schedule();
            computed.Add((step.Scheduled[0].NumComputed, step.Scheduled[0].NumNew));
            run.Sample();
        }
        Assert.Equal([(0, 4), (4, 4), (8, 4), (12, 1), (13, 1)], computed);
    }

    [Fact]
    public void ARecomputationLargerThanTheBudgetGoesInChunks()
    {
        var run = new SchedulerRun(longContextAfter: 8, maxNumBatchedTokens: 4);
        run.Add("a", 8);
        for (int i = 0; i < 2; i++)                    // the prompt in two chunks, then its first token
        {
            run.Schedule();
            run.Sample();
        }
        var computed = new List<(int, int)>();
        for (int i = 0; i < 4; i++)
        {
            var step = run.Schedule();
            computed.Add((step.Scheduled[0].NumComputed, step.Scheduled[0].NumNew));
            run.Sample();
        }
        Assert.Equal([(0, 4), (4, 4), (8, 1), (9, 1)], computed);
    }

    [Fact]
    public void ARecomputationTakesOnlyTheBudgetTheRunningRequestsLeave()
    {
        // "a" crosses the switch while "b", which came later, decodes: "b" keeps its token a step.
        var run = new SchedulerRun(longContextAfter: 8, maxNumBatchedTokens: 6);
        run.Add("a", 8);
        run.Add("b", 2);
        for (int i = 0; i < 2; i++)
        {
            run.Schedule();
            run.Sample();
        }
        Assert.Equal(9, run.Scheduler.Running.Single(g => g.RequestId == "a").Sequences[0].TokenCount);
        run.Schedule();
        Assert.Equal(new Dictionary<string, int> { ["b"] = 1, ["a"] = 5 }, run.TokensByRequest());
        Assert.Equal(0, run.Of("a")[0].NumComputed);
    }
}
