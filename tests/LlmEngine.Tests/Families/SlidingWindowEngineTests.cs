using LlmEngine.Scheduling.Blocks;
using LlmEngine.Actors.Engine;
using LlmEngine.Kernels.Attention;
using LlmEngine.Kernels.Models;
using LlmEngine.Kernels.Sampling;
using LlmEngine.Tests.Engine;
using LlmEngine.Tests.Loading;
using static TorchSharp.torch;

namespace LlmEngine.Tests.Families;

/// <summary>A model windowed on every layer generates far past its window with the blocks behind the
/// window released: its KV use stays bounded by the window, and its tokens are the dense model's.</summary>
[Trait("Category", "Slow")]
public class SlidingWindowEngineTests
{
    private const int BlockSize = 4, Generated = 2000;

    [Theory]
    [InlineData("mistral", AttentionBackends.Native)]
    [InlineData("starcoder2", AttentionBackends.Torch)]
    public async Task LongGenerationHoldsOnlyTheWindowsBlocksAndEqualsTheDenseModel(string family, string backend)
    {
        // The tiny models have 256 positions; the copy has room for the whole generation.
        using var dir = new TempDir();
        var config = TinyHfVariant.Config(family);
        config["max_position_embeddings"] = 4096;
        string folder = TinyHfVariant.Write(dir, config, TinyHfVariant.Tensors(family));
        int[] prompt = [.. Enumerable.Range(0, 10).Select(i => (i * 37 + 11) % 512)];

        int window;
        int[] generated;
        EngineStatistics stats;
        await using (var engine = InferenceEngine.Start(new EngineOptions
               {
                   // 128 blocks hold 512 tokens: without the window the request would be refused.
                   Model = folder, BlockSize = BlockSize, NumBlocks = 128, MaxNumBatchedTokens = 256, AttentionBackend = backend, SwapSpaceGiB = 0,
               }))
        {
            window = engine.ModelConfig.WindowOfEveryLayer;
            var output = await EngineRuns.Final(engine, "long", prompt,
                new SamplingParameters { Temperature = 0, MaxTokens = Generated, IgnoreEos = true });
            generated = [.. output.Outputs![0].TokenIds];
            stats = await engine.RefreshStatisticsAsync();
            await EngineRuns.AssertAllBlocksFree(engine);
        }

        Assert.True(window > 0);
        Assert.Equal(Generated, generated.Length);
        // The table covers ceil((n + 1) / B) blocks; all but those holding keys n - W + 1 .. n are released.
        Assert.InRange(stats.PeakBlocksUsed, 1, BlockBudget.BlocksFor(window, BlockSize) + 1);
        Assert.Equal(0, stats.NumPreemptions);

        // Dense, windowed: one forward over the prompt and the generation; every generated token is
        // the argmax at the position before it.
        using var loaded = ModelFactory.Load(folder, "auto", ScalarType.Float32, CPU);
        int[] sequence = [.. prompt, .. generated[..^1]];
        var logits = AttentionPath.Dense.PromptLogits(loaded.Model, [sequence]).Single();
        using var argmax = logits[(prompt.Length - 1)..].argmax(-1);
        logits.Dispose();
        var dense = argmax.data<long>().Select(t => (int)t).ToArray();
        int firstDifference = Enumerable.Range(0, Generated).FirstOrDefault(i => dense[i] != generated[i], -1);
        Assert.True(firstDifference < 0, $"token {firstDifference}: engine {generated[Math.Max(firstDifference, 0)]}, dense {dense[Math.Max(firstDifference, 0)]}");
    }
}
