using LlmEngine.Actors.Engine;
using LlmEngine.Kernels.Sampling;
using LlmEngine.Scheduling;
using LlmEngine.Tests.Loading;

namespace LlmEngine.Tests.Engine;

/// <summary>Starting engines on the shared models and collecting request outputs, for engine tests.</summary>
internal static class EngineRuns
{
    public static InferenceEngine Stories(int numBlocks = 256, int blockSize = 16, bool prefixCaching = true, PreemptionMode mode = PreemptionMode.Recompute) =>
        InferenceEngine.Start(new EngineOptions
        {
            Model = SharedModels.Stories260K,
            NumBlocks = numBlocks,
            BlockSize = blockSize,
            EnablePrefixCaching = prefixCaching,
            PreemptionMode = mode,
            SwapSpaceGiB = 0.05,
        });

    public static async Task<RequestOutput> Final(InferenceEngine engine, GenerationRequest request, CancellationToken cancel = default)
    {
        RequestOutput? last = null;
        await foreach (var output in engine.GenerateAsync(request, cancel)) last = output;
        return last ?? throw new InvalidOperationException("no output");
    }

    public static Task<RequestOutput> Final(InferenceEngine engine, string id, IReadOnlyList<int> prompt, SamplingParameters sampling) =>
        Final(engine, new GenerationRequest(id, prompt, sampling));

    /// <summary>Waits (a few steps at most) until every block is free again, and checks the pool.</summary>
    public static async Task AssertAllBlocksFree(InferenceEngine engine)
    {
        EngineStatistics stats = await engine.RefreshStatisticsAsync();
        for (int i = 0; i < 50 && stats.BlocksFree != stats.BlocksTotal; i++)
        {
            await Task.Delay(20);
            stats = await engine.RefreshStatisticsAsync();
        }
        Assert.Null(await engine.CheckBlockInvariantsAsync());
        Assert.Equal(stats.BlocksTotal, stats.BlocksFree);
    }
}
