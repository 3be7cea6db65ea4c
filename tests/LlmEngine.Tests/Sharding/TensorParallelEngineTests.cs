using LlmEngine.Actors.Engine;
using LlmEngine.Kernels.Sampling;
using LlmEngine.Tests.Engine;
using LlmEngine.Tests.Families;
using LlmEngine.Tests.Loading;
using LlmEngine.Tests.Models;

namespace LlmEngine.Tests.Sharding;

/// <summary>The engine with --tensor-parallel-size 2 generates the greedy tokens of the whole model:
/// run.c's on stories260K, transformers' on the tiny GPT-2, OPT and grouped-query LLaMA, and the
/// dense reference's under forced preemption (<see cref="TensorParallelPreemptionTests"/>).</summary>
public class TensorParallelEngineTests
{
    internal static async Task<int[]> Tokens(InferenceEngine engine, string id, int[] prompt, SamplingParameters sampling)
    {
        var final = await EngineRuns.Final(engine, id, prompt, sampling);
        return final.Outputs![0].TokenIds.ToArray();
    }

    /// <summary>run.c's greedy tokens for every stories260K reference prompt, all sent at once; then every block is free.</summary>
    internal static async Task AssertRunCTokensOnEveryReferencePrompt(InferenceEngine engine)
    {
        var rows = Stories260KReferenceTests.Rows;
        var outputs = await Task.WhenAll(rows.Select((row, i) =>
            Tokens(engine, $"r{i}", row.PromptIds, new SamplingParameters { Temperature = 0, MaxTokens = row.Generated.Length })));
        for (int i = 0; i < rows.Count; i++) Assert.Equal(rows[i].Generated, outputs[i]);
        await EngineRuns.AssertAllBlocksFree(engine);
    }

    /// <summary>transformers' greedy tokens for every input of a tiny model, all sent at once.</summary>
    internal static async Task AssertTransformersGreedyTokens(InferenceEngine engine, TinyHfReference reference)
    {
        var sampling = new SamplingParameters { Temperature = 0, MaxTokens = reference.Greedy[0].Length, IgnoreEos = true };
        var outputs = await Task.WhenAll(reference.Inputs.Select((input, i) => Tokens(engine, $"r{i}", input, sampling)));
        for (int i = 0; i < outputs.Length; i++) Assert.Equal(reference.Greedy[i], outputs[i]);
    }

    [Fact]
    public async Task Stories260KGeneratesRunCTokensOnEveryReferencePrompt()
    {
        await using var engine = InferenceEngine.Start(new EngineOptions { Model = SharedModels.Stories260K, NumBlocks = 64, TensorParallelSize = 2 });
        await AssertRunCTokensOnEveryReferencePrompt(engine);
    }

    [Theory]
    [InlineData("gpt2")]
    [InlineData("opt")]
    [InlineData("llama")]
    public async Task TinyModelsGenerateTransformersGreedyTokens(string family)
    {
        var reference = TinyHfReference.Of(family);
        await using var engine = InferenceEngine.Start(new EngineOptions { Model = SharedModels.TinyHf(family), NumBlocks = 64, TensorParallelSize = 2 });
        await AssertTransformersGreedyTokens(engine, reference);
    }
}
