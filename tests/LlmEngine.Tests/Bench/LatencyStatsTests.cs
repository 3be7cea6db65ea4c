using System.Diagnostics;
using LlmEngine.Host.Bench;

namespace LlmEngine.Tests.Bench;

public class LatencyStatsTests
{
    [Theory]
    [InlineData(50, 2.5)]
    [InlineData(99, 3.97)]
    [InlineData(0, 1)]
    [InlineData(100, 4)]
    [InlineData(25, 1.75)]
    public void PercentilesInterpolateLinearlyAsNumpyDoes(double p, double expected) =>
        Assert.Equal(expected, LatencyStats.Percentile([4, 1, 3, 2], p), 9);

    [Fact]
    public void AnEmptyListSummarisesToZero() =>
        Assert.Equal(new Distribution(0, 0, 0, 0, 0), Distribution.Of([]));

    [Fact]
    public void StdIsThePopulationStandardDeviation() =>
        Assert.Equal(2, LatencyStats.Std([2, 4, 4, 4, 5, 5, 7, 9]), 9);

    [Fact]
    public void TpotIsTheTimeAfterTheFirstTokenOverTheTokensAfterIt()
    {
        var record = new RequestRecord(true, 10, 11, Ttft: 0.5, Itl: [], Latency: 2.5);

        Assert.Equal(0.2, record.Tpot!.Value, 9);
        Assert.Equal(2.5 / 11, record.NormalizedLatency!.Value, 9);
    }

    [Fact]
    public void ASingleTokenHasNoTpot() =>
        Assert.Null(new RequestRecord(true, 10, 1, 0.5, [], 0.5).Tpot);

    [Fact]
    public void SummaryPoolsInterTokenGapsAndCountsOnlyCompletedRequests()
    {
        var records = new[]
        {
            new RequestRecord(true, 100, 3, 0.1, [0.2, 0.4], 0.7),
            new RequestRecord(true, 50, 2, 0.3, [0.6], 0.9),
            RequestRecord.Failed(70, "boom"),
        };

        var s = ServeSummary.From(records, duration: 2);

        Assert.Equal((2, 1, 150L, 5L), (s.Completed, s.Failed, s.TotalInputTokens, s.TotalOutputTokens));
        Assert.Equal((1.0, 2.5, 77.5), (s.RequestThroughput, s.OutputThroughput, s.TotalTokenThroughput));
        Assert.Equal(400, s.ItlMs.Mean, 9);
        Assert.Equal(200, s.TtftMs.Mean, 9);
        Assert.Equal(((0.7 - 0.1) / 2 + (0.9 - 0.3) / 1) / 2 * 1000, s.TpotMs.Mean, 9);
        Assert.Equal((0.7 / 3 + 0.9 / 2) / 2, s.MeanNormalizedLatency, 9);
    }

    [Fact]
    public void JsonHasVllmsKeysAndNormalizedLatency()
    {
        var json = ServeSummary.From([new RequestRecord(true, 1, 2, 0.1, [0.1], 0.2)], 1).ToJson();

        foreach (var key in new[] { "completed", "failed", "duration", "request_throughput", "output_throughput", "total_token_throughput", "mean_normalized_latency" })
            Assert.Contains(key, json.Keys);
        foreach (var metric in new[] { "ttft", "tpot", "itl", "e2el" })
            foreach (var stat in new[] { "mean", "median", "p99" })
                Assert.Contains($"{stat}_{metric}_ms", json.Keys);
    }

    [Fact]
    public async Task AStreamIsTimedByItsChunksWithTokensAndCountedByUsage()
    {
        const string stream =
            "data: {\"choices\":[{\"index\":0,\"text\":\"\",\"logprobs\":{\"tokens\":[\"a\"]}}]}\n\n" +
            "data: {\"choices\":[{\"index\":0,\"text\":\"\",\"finish_reason\":null}]}\n\n" +
            "data: {\"choices\":[{\"index\":0,\"text\":\"x\",\"logprobs\":{\"tokens\":[\"b\",\"c\"]}}]}\n\n" +
            "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":3,\"total_tokens\":8}}\n\n" +
            "data: [DONE]\n\n";

        var record = await ServeClient.ReadStream(new StringReader(stream), 5, Stopwatch.StartNew(), default);

        Assert.True(record.Success);
        Assert.Equal((3, 1), (record.OutputTokens, record.Itl.Count));
        Assert.True(record.Ttft >= 0 && record.Latency >= record.Ttft);
    }

    [Fact]
    public async Task AnErrorEventFailsTheRequest()
    {
        var record = await ServeClient.ReadStream(new StringReader("data: {\"error\":{\"message\":\"step failed\"}}\n\ndata: [DONE]\n\n"), 5, Stopwatch.StartNew(), default);

        Assert.Equal((false, "step failed"), (record.Success, record.Error));
    }

    [Fact]
    public async Task AStreamThatEndsWithoutDoneFails() =>
        Assert.False((await ServeClient.ReadStream(new StringReader("data: {\"choices\":[{\"text\":\"a\"}]}\n\n"), 5, Stopwatch.StartNew(), default)).Success);
}
