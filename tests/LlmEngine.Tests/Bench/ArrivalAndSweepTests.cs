using LlmEngine.Actors.Engine;
using LlmEngine.Host.Bench;
using LlmEngine.Scheduling;

namespace LlmEngine.Tests.Bench;

public class ArrivalAndSweepTests
{
    [Theory]
    [InlineData(4.0, 1.0)]
    [InlineData(4.0, 0.3)]
    [InlineData(0.5, 5.0)]
    public void GapsAverageOneOverTheRateWhateverTheBurstiness(double rate, double burstiness)
    {
        var arrivals = new ArrivalProcess(rate, burstiness, new Random(7));

        var gaps = Enumerable.Range(0, 40000).Select(_ => arrivals.NextGap()).ToList();

        Assert.InRange(gaps.Average() * rate, 0.97, 1.03);
        // Gamma(k) gaps have a coefficient of variation of 1 / sqrt(k).
        Assert.InRange(LatencyStats.Std(gaps) / gaps.Average(), 0.93 / Math.Sqrt(burstiness), 1.07 / Math.Sqrt(burstiness));
    }

    [Fact]
    public void AnInfiniteRateSendsEverythingAtOnce() =>
        Assert.Equal(0, new ArrivalProcess(ArrivalProcess.ParseRate("inf"), 1, new Random(1)).NextGap());

    private static SweepPoint Point(string config, double rate, double latency) =>
        new(config, rate, ServeSummary.From([new RequestRecord(true, 1, 10, 0, [], latency * 10)], 1), null);

    [Fact]
    public void EachConfigSustainsTheHighestRateBelowWhichEveryPointMeetsTheTarget()
    {
        var points = new[]
        {
            Point("paged", 1, 0.1), Point("paged", 2, 0.1), Point("paged", 4, 0.2), Point("paged", 8, 0.9),
            Point("static", 1, 0.1), Point("static", 2, 0.5), Point("static", 4, 0.2),
        };

        var reading = SweepReading.Of(points, 0.3, "static");

        Assert.Equal((4.0, 1.0), (reading.Sustained["paged"], reading.Sustained["static"]));
        Assert.Equal(4.0, reading.Ratio("paged"));
    }

    [Fact]
    public void TheDefaultTargetIsThreeTimesTheLowestLatency() =>
        Assert.Equal(0.3, SweepReading.Of([Point("a", 1, 0.1), Point("a", 2, 0.4)], null, null).Target, 9);

    [Fact]
    public void ConfigFlagsOverrideOnlyWhatTheyName()
    {
        var baseOptions = new EngineOptions { Model = "m", NumBlocks = 64, KvLayout = KvLayout.Paged };

        var configs = SweepConfig.ParseAll("paged:--kv-layout paged;static:--kv-layout reserved --batching static --no-enable-prefix-caching", baseOptions);

        Assert.Equal(("m", 64, KvLayout.Reserved, BatchingMode.Static, false),
            (configs[1].Options.Model, configs[1].Options.NumBlocks, configs[1].Options.KvLayout, configs[1].Options.Batching, configs[1].Options.EnablePrefixCaching));
        Assert.Equal((KvLayout.Paged, BatchingMode.Continuous, true), (configs[0].Options.KvLayout, configs[0].Options.Batching, configs[0].Options.EnablePrefixCaching));
    }

    [Fact]
    public void AnUnknownConfigFlagIsAnError() =>
        Assert.Throws<ArgumentException>(() => SweepConfig.ParseAll("x:--no-such-flag 3", new EngineOptions()));
}
