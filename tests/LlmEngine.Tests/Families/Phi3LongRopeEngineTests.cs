using LlmEngine.Actors.Engine;
using LlmEngine.Kernels.Models;
using LlmEngine.Kernels.Sampling;
using LlmEngine.Scheduling;
using LlmEngine.Tests.Engine;
using LlmEngine.Tests.Loading;
using static TorchSharp.torch;

namespace LlmEngine.Tests.Families;

/// <summary>
/// The engine on Phi-3 with longrope (switch at 40 tokens) gives transformers' tokens when a
/// sequence grows past the switch: its cache, computed with the short factors, is recomputed with
/// the long ones, whatever the block size, step budget (chunks of a long prompt use the long
/// factors from the first) or preemption.
/// </summary>
public class Phi3LongRopeEngineTests
{
    private const string Family = "phi3_longrope";
    private const int Switch = 40;

    private static InferenceEngine Start(int blockSize, int budget, int numBlocks = 256, PreemptionMode mode = PreemptionMode.Recompute) =>
        InferenceEngine.Start(new EngineOptions
        {
            Model = SharedModels.TinyHf(Family), BlockSize = blockSize, NumBlocks = numBlocks, MaxNumBatchedTokens = budget,
            PreemptionMode = mode, SwapSpaceGiB = mode == PreemptionMode.Swap ? 0.01 : 0,
        });

    private static SamplingParameters Greedy(int tokens) => new() { Temperature = 0, MaxTokens = tokens, IgnoreEos = true };

    private static async Task<int[][]> Run(InferenceEngine engine, int[][] prompts, int tokens)
    {
        var outputs = await Task.WhenAll(prompts.Select((p, i) => EngineRuns.Final(engine, $"r{i}", p, Greedy(tokens))));
        await EngineRuns.AssertAllBlocksFree(engine);
        return [.. outputs.Select(o => o.Outputs![0].TokenIds.ToArray())];
    }

    [Theory]
    [InlineData(1, 2048)]
    [InlineData(4, 2048)]
    [InlineData(16, 2048)]
    [InlineData(4, 16)]
    [InlineData(16, 7)]
    public async Task EveryReferenceInputsTokensMatchTransformersAcrossTheSwitch(int blockSize, int budget)
    {
        // Inputs of 1, 7, 40 and 100 tokens: the 40-token one crosses the switch on its second token.
        var reference = TinyHfReference.Of(Family);
        await using var engine = Start(blockSize, budget);
        var tokens = await Run(engine, reference.Inputs, 20);
        for (int i = 0; i < reference.Inputs.Length; i++) Assert.Equal(reference.Greedy[i], tokens[i]);
    }

    [Theory]
    [InlineData(PreemptionMode.Recompute)]
    [InlineData(PreemptionMode.Swap)]
    public async Task UnderPreemptionTheTokensStillMatchTransformers(PreemptionMode mode)
    {
        var reference = TinyHfReference.Of(Family);
        // Each input twice: 456 tokens at the end need 114 blocks of 4; 31 hold the longest request alone.
        await using var engine = Start(4, 2048, numBlocks: 31, mode);
        var tokens = await Run(engine, [.. reference.Inputs, .. reference.Inputs], 20);
        for (int i = 0; i < tokens.Length; i++) Assert.Equal(reference.Greedy[i % reference.Inputs.Length], tokens[i]);
        Assert.True((await engine.RefreshStatisticsAsync()).NumPreemptions > 0);
    }

    [Fact]
    public async Task PromptsNotInTheFilesMatchFullRecomputationAtEveryStep()
    {
        // Prompts of 20, 33 and 40 tokens with 24 tokens each: every one crosses the switch.
        var random = new Random(18);
        int[][] prompts = [.. new[] { 20, 33, 40 }.Select(n => Enumerable.Range(0, n).Select(_ => random.Next(512)).ToArray())];
        await using var engine = Start(4, 16);
        var tokens = await Run(engine, prompts, 24);

        using var loaded = TinyHfReference.LoadModel(Family);
        for (int i = 0; i < prompts.Length; i++)
        {
            Assert.True(prompts[i].Length + 24 > Switch + 1);
            Assert.Equal(RecomputedGreedy(loaded.Model, prompts[i], 24), tokens[i]);
        }
    }

    /// <summary>Greedy decoding as transformers' longrope defines it: each token from a forward pass
    /// over the whole sequence so far (its factors chosen by that sequence's length).</summary>
    private static int[] RecomputedGreedy(ICausalLanguageModel model, int[] prompt, int count)
    {
        var sequence = prompt.ToList();
        for (int k = 0; k < count; k++)
        {
            var logits = AttentionPath.Dense.PromptLogits(model, [sequence.ToArray()]).Single();
            using var last = logits[-1];
            sequence.Add((int)last.argmax().item<long>());
            logits.Dispose();
        }
        return [.. sequence.Skip(prompt.Length)];
    }
}
