using LlmEngine.Actors.Engine;
using LlmEngine.Host.Bench;
using LlmEngine.Tests.Loading;

namespace LlmEngine.Tests.Reliability;

/// <summary>Two thousand seeded hostile requests over every endpoint and field (<see cref="RequestFuzzer"/>)
/// to a real server on stories260K: not one 5xx (nor a stream's server error event), none left
/// unanswered, and a fixed greedy completion answers the same afterwards, with every block free.</summary>
public sealed class FuzzTests
{
    [Fact]
    public async Task TwoThousandFuzzedRequestsGetNo5xxNoHangAndLeaveTheServerAsItWas()
    {
        await using var server = await InProcessServer.StartAsync(new EngineOptions { Model = SharedModels.Stories260K, NumBlocks = 512, BlockSize = 16 });

        var outcome = await FuzzRun.RunAsync(server.BaseAddress, requests: 2000, seed: 15, concurrency: 8, timeout: TimeSpan.FromSeconds(60));

        Assert.True(outcome.ServerErrors.Count == 0, string.Join("\n", outcome.ServerErrors.Take(10)));
        Assert.True(outcome.Hangs.Count == 0, string.Join("\n", outcome.Hangs.Take(10)));
        Assert.Equal(outcome.GreedyBefore, outcome.GreedyAfter);
        Assert.True(outcome.Statuses.GetValueOrDefault(200) > 200, $"too few requests got through: {string.Join(", ", outcome.Statuses)}");
        var stats = await server.Engine.RefreshStatisticsAsync();
        for (int i = 0; i < 100 && stats.BlocksFree != stats.BlocksTotal; i++)
        {
            await Task.Delay(20);
            stats = await server.Engine.RefreshStatisticsAsync();
        }
        Assert.Equal(stats.BlocksTotal, stats.BlocksFree);
        Assert.Null(await server.Engine.CheckBlockInvariantsAsync());
    }
}
