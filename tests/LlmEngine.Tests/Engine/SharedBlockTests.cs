using LlmEngine.Actors.Engine;
using LlmEngine.Kernels.Models;
using LlmEngine.Kernels.Sampling;
using LlmEngine.Tests.Loading;
using LlmEngine.Tests.Models;
using TorchSharp;

namespace LlmEngine.Tests.Engine;

/// <summary>Parallel sampling and beam search share the prompt's blocks and fork by reference
/// counts; their outputs must equal the same searches without any sharing.</summary>
public class SharedBlockTests
{
    private static readonly int[] Prompt = Stories260KReferenceTests.Rows[1].PromptIds;

    [Fact]
    public async Task BeamWidthOneEqualsGreedy()
    {
        await using var engine = EngineRuns.Stories();
        var greedy = await EngineRuns.Final(engine, "g", Prompt, new SamplingParameters { Temperature = 0, MaxTokens = 30, IgnoreEos = true });
        var beam = await EngineRuns.Final(engine, "b", Prompt, new SamplingParameters { UseBeamSearch = true, N = 1, Temperature = 0, MaxTokens = 30, IgnoreEos = true });
        Assert.Equal(greedy.Outputs![0].TokenIds, beam.Outputs![0].TokenIds);
        await EngineRuns.AssertAllBlocksFree(engine);
    }

    [Theory]
    [InlineData("stories", 2, 8)]
    [InlineData("stories", 4, 16)]
    [InlineData("stories", 8, 1)]
    [InlineData("tiny-llama", 4, 8)]
    [InlineData("tiny-llama", 8, 16)]
    [Trait("Category", "Slow")]
    public async Task BeamsEqualAPlainBeamSearchWithoutSharing(string model, int width, int blockSize)
    {
        string path = model == "stories" ? SharedModels.Stories260K : SharedModels.TinyHf("llama");
        int[] prompt = model == "stories" ? Prompt : [5, 77, 301, 12, 9, 400, 33];
        var sampling = new SamplingParameters { UseBeamSearch = true, N = width, Temperature = 0, MaxTokens = 24, LengthPenalty = 1.0, EarlyStopping = "false" };
        using var loaded = ModelFactory.Load(path, "auto", torch.ScalarType.Float32, torch.CPU);
        var expected = DenseBeamSearch.Run(loaded.Model, prompt, sampling, loaded.Config.EosTokenIds.ToArray());

        await using var engine = InferenceEngine.Start(new EngineOptions { Model = path, NumBlocks = 2048 / blockSize, BlockSize = blockSize });
        var output = await EngineRuns.Final(engine, "beam", prompt, sampling);
        Assert.Equal(expected.Count, output.Outputs!.Count);
        for (int i = 0; i < expected.Count; i++)
        {
            Assert.Equal(expected[i].Tokens, output.Outputs[i].TokenIds);
            Assert.Equal(expected[i].CumulativeLogprob, output.Outputs[i].CumulativeLogprob, 3);
        }
        var stats = await engine.RefreshStatisticsAsync();
        Assert.True(stats.PeakBlocksSavedBySharing > 0, "beams should have shared blocks");
        await EngineRuns.AssertAllBlocksFree(engine);
    }

    [Fact]
    public async Task ParallelSamplesEqualSingleRequestsWithDerivedSeeds()
    {
        await using var engine = EngineRuns.Stories();
        var sampling = new SamplingParameters { Temperature = 1.0, TopK = 20, Seed = 1234, MaxTokens = 24, IgnoreEos = true };
        var together = await EngineRuns.Final(engine, "n", Prompt, sampling with { N = 4 });
        Assert.Equal(4, together.Outputs!.Count);
        for (int i = 0; i < 4; i++)
        {
            var alone = await EngineRuns.Final(engine, $"alone{i}", Prompt, sampling with { Seed = SequenceRandom.DeriveSeed(1234, i) });
            Assert.Equal(alone.Outputs![0].TokenIds, together.Outputs[i].TokenIds);
        }
        Assert.True(together.Outputs.Select(o => string.Join(",", o.TokenIds)).Distinct().Count() > 1, "samples should differ");
        var again = await EngineRuns.Final(engine, "n2", Prompt, sampling with { N = 4 });
        Assert.Equal(together.Outputs.Select(o => o.TokenIds), again.Outputs!.Select(o => o.TokenIds));
        await EngineRuns.AssertAllBlocksFree(engine);
    }
}
