using LlmEngine.Actors.Engine;
using LlmEngine.Kernels.Sampling;
using LlmEngine.Scheduling;
using LlmEngine.Tests.Loading;

namespace LlmEngine.Tests.Engine;

/// <summary>Automatic prefix caching changes how much is computed, never what comes out.</summary>
[Trait("Category", "Slow")]
public class PrefixCachingTests
{
    public static TheoryData<int, PreemptionMode> Configurations()
    {
        var data = new TheoryData<int, PreemptionMode>();
        foreach (int blockSize in new[] { 1, 8, 16, 32 })
            foreach (var mode in new[] { PreemptionMode.Recompute, PreemptionMode.Swap })
                data.Add(blockSize, mode);
        return data;
    }

    [Theory]
    [MemberData(nameof(Configurations))]
    public async Task OutputsWithCachingEqualOutputsWithout(int blockSize, PreemptionMode mode)
    {
        var random = new Random(blockSize);
        var prefix = Enumerable.Range(0, 120).Select(_ => random.Next(3, 512)).ToArray();
        var prompts = Enumerable.Range(0, 24).Select(i => prefix.Concat(Enumerable.Range(0, random.Next(1, 40)).Select(_ => random.Next(3, 512))).ToArray()).ToList();
        var (cached, hits) = await Run(prompts, blockSize, mode, caching: true);
        var (plain, noHits) = await Run(prompts, blockSize, mode, caching: false);
        for (int i = 0; i < prompts.Count; i++) Assert.Equal(plain[i], cached[i]);
        Assert.True(hits >= (prompts.Count - 4) * (prefix.Length / blockSize * blockSize - blockSize), $"only {hits} prompt tokens came from the cache");
        Assert.Equal(0, noHits);
    }

    private static async Task<(List<int[]> Outputs, long Hits)> Run(List<int[]> prompts, int blockSize, PreemptionMode mode, bool caching)
    {
        await using var engine = InferenceEngine.Start(new EngineOptions
        {
            Model = SharedModels.Stories260K,
            BlockSize = blockSize,
            NumBlocks = 1200 / blockSize,
            PreemptionMode = mode,
            SwapSpaceGiB = 0.05,
            EnablePrefixCaching = caching,
            MaxNumBatchedTokens = 256,
        });
        var tasks = prompts.Select((p, i) => EngineRuns.Final(engine, $"p{i}", p, new SamplingParameters { Temperature = 0, MaxTokens = 16 + i % 9, IgnoreEos = true })).ToList();
        var outputs = (await Task.WhenAll(tasks)).Select(o => o.Outputs![0].TokenIds.ToArray()).ToList();
        var stats = await engine.RefreshStatisticsAsync();
        await EngineRuns.AssertAllBlocksFree(engine);
        return (outputs, stats.PrefixCacheHits);
    }
}
