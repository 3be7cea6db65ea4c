using LlmEngine.Actors.Engine;
using LlmEngine.Kernels.Sampling;
using LlmEngine.Tests.Loading;

namespace LlmEngine.Tests.Engine;

/// <summary>
/// No request can hurt another: a request whose own step fails fails alone, a failed forward pass
/// fails only the requests in it and leaves nothing in the prefix cache, a native fault kills the
/// engine cleanly, duplicate ids are refused, and every block comes back.
/// </summary>
public class FaultInjectionTests
{
    private const int Poison = 499;
    private static readonly SamplingParameters Greedy = new() { Temperature = 0, MaxTokens = 12, IgnoreEos = true };

    private static (InferenceEngine Engine, FaultyModel Model) Start(int maxWaiting = 0, int maxNumSeqs = 256)
    {
        FaultyModel? model = null;
        var engine = InferenceEngine.Start(new EngineOptions
        {
            Model = SharedModels.Stories260K,
            NumBlocks = 128,
            BlockSize = 16,
            MaxWaitingRequests = maxWaiting,
            MaxNumSeqs = maxNumSeqs,
        }, inner => model = new FaultyModel(inner));
        return (engine, model!);
    }

    private static int[] Prompt(int seed, int length = 40)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, length).Select(_ => random.Next(3, 400)).ToArray();
    }

    private static async Task<int[]> CleanRun(int[] prompt, SamplingParameters sampling)
    {
        await using var engine = EngineRuns.Stories();
        return [.. (await EngineRuns.Final(engine, "clean", prompt, sampling)).Outputs![0].TokenIds];
    }

    [Fact]
    public async Task ATemperatureThatIsZeroAsAFloatSamplesGreedily()
    {
        var (engine, _) = Start();
        await using var _e = engine;
        var prompt = Prompt(1);
        var tiny = await EngineRuns.Final(engine, "tiny", prompt, Greedy with { Temperature = 1e-39 });
        var greedy = await EngineRuns.Final(engine, "greedy", prompt, Greedy);
        Assert.Equal(greedy.Outputs![0].TokenIds, tiny.Outputs![0].TokenIds);
    }

    [Fact]
    public async Task ARepetitionPenaltyThatWouldOverflowTheLogitsIsRefusedAndTheSmallestAllowedOneSamples()
    {
        var (engine, _) = Start();
        await using var _e = engine;
        var overflowing = Greedy with { RepetitionPenalty = 1e-39, Temperature = 1 };
        Assert.Equal("repetition_penalty", Assert.Throws<ArgumentException>(() => engine.Validate(new("tiny", Prompt(8), overflowing))).ParamName);
        var smallest = Greedy with { RepetitionPenalty = SamplingParameters.MinRepetitionPenalty, Temperature = SamplingParameters.GreedyTemperature, Seed = 3 };
        var output = await EngineRuns.Final(engine, "smallest", Prompt(8), smallest);
        Assert.Equal(Greedy.MaxTokens, output.Outputs![0].TokenIds.Count);
    }

    [Fact]
    public async Task ABeamWidthWhoseCandidatesExceedTheVocabularyIsRefused()
    {
        var (engine, _) = Start();
        await using var _e = engine;
        var error = Assert.Throws<ArgumentException>(() => engine.Validate(new("beams", Prompt(2), Greedy with { N = 257, UseBeamSearch = true, MaxTokens = 2 })));
        Assert.Equal("n", error.ParamName);
        Assert.Throws<ArgumentException>(() => engine.Validate(new("wide", Prompt(2), Greedy with { N = 4000, MaxTokens = 1 })));
    }

    [Fact]
    public async Task ARequestWhoseLogitsAreNotNumbersFailsAloneAndTheOthersKeepTheirCleanTokens()
    {
        var prompts = Enumerable.Range(0, 6).Select(i => Prompt(10 + i)).ToArray();
        var clean = new List<int[]>();
        foreach (var p in prompts) clean.Add(await CleanRun(p, Greedy));
        var (engine, model) = Start();
        await using var _e = engine;
        model.PoisonToken = Poison;
        // The poisoned request samples (temperature 1), so on its own it would throw inside the sampler.
        var bad = EngineRuns.Final(engine, "bad", [.. Prompt(3), Poison], Greedy with { Temperature = 1, Seed = 1 });
        var good = prompts.Select((p, i) => EngineRuns.Final(engine, $"good{i}", p, Greedy)).ToList();
        var error = await Assert.ThrowsAsync<RequestFailedException>(() => bad);
        Assert.DoesNotContain("/", error.Message);
        for (int i = 0; i < prompts.Length; i++) Assert.Equal(clean[i], (await good[i]).Outputs![0].TokenIds);
        await EngineRuns.AssertAllBlocksFree(engine);
    }

    [Fact]
    public async Task AFailedStepFailsItsRequestsWithoutInternalsAndLeavesNothingInThePrefixCache()
    {
        var prompt = Prompt(4);
        var clean = await CleanRun(prompt, Greedy);
        var (engine, model) = Start();
        await using var _e = engine;
        model.FailOnCall = 1;
        var error = await Assert.ThrowsAsync<RequestFailedException>(() => EngineRuns.Final(engine, "first", prompt, Greedy));
        Assert.DoesNotContain("libtorch", error.Message);
        var again = await EngineRuns.Final(engine, "again", prompt, Greedy);
        Assert.Equal(clean, again.Outputs![0].TokenIds);
        await EngineRuns.AssertAllBlocksFree(engine);
    }

    [Fact]
    public async Task AFailedStepWithNoLaterArrivalLeavesNoStaleGauge()
    {
        var (engine, model) = Start();
        await using var _e = engine;
        model.FailOnCall = 2;
        await Assert.ThrowsAsync<RequestFailedException>(() => EngineRuns.Final(engine, "failed", Prompt(7), Greedy));
        // What a scrape reads: nothing runs, waits or holds blocks any more, without another request to refresh it.
        var stats = engine.Statistics;
        for (int i = 0; i < 100 && (stats.Running, stats.Waiting, stats.KvCacheUsage) != (0, 0, 0); i++)
        {
            await Task.Delay(20);
            stats = engine.Statistics;
        }
        Assert.Equal((0, 0, 0, 0.0), (stats.Running, stats.Waiting, stats.Swapped, stats.KvCacheUsage));
        Assert.Equal(stats.BlocksTotal, stats.BlocksFree);
    }

    [Fact]
    public async Task ANativeFaultKillsTheEngineFailingEveryRequestAndRefusingNewOnes()
    {
        var (engine, model) = Start();
        await using var _e = engine;
        model.FailOnCall = 3;
        model.Fault = new AccessViolationException("simulated native fault");
        var requests = Enumerable.Range(0, 4).Select(i => EngineRuns.Final(engine, $"r{i}", Prompt(20 + i), Greedy with { MaxTokens = 40 })).ToList();
        foreach (var r in requests) await Assert.ThrowsAsync<EngineDeadException>(() => r);
        Assert.Contains("simulated native fault", engine.DeadReason);
        Assert.False(engine.IsServing);
        Assert.True(engine.Died.IsCancellationRequested);
        await Assert.ThrowsAsync<EngineDeadException>(() => EngineRuns.Final(engine, "late", Prompt(30), Greedy));
    }

    [Fact]
    public async Task ADuplicateRequestIdIsRefusedAndTheRequestInFlightFinishes()
    {
        var prompt = Prompt(5);
        var clean = await CleanRun(prompt, Greedy with { MaxTokens = 60 });
        var (engine, _) = Start();
        await using var _e = engine;
        var first = EngineRuns.Final(engine, "same", prompt, Greedy with { MaxTokens = 60 });
        var error = await Assert.ThrowsAsync<ArgumentException>(() => EngineRuns.Final(engine, "same", Prompt(6), Greedy).WaitAsync(TimeSpan.FromSeconds(20)));
        Assert.Equal("request_id", error.ParamName);
        Assert.Equal(clean, (await first.WaitAsync(TimeSpan.FromSeconds(60))).Outputs![0].TokenIds);
        await EngineRuns.AssertAllBlocksFree(engine);
    }
}
