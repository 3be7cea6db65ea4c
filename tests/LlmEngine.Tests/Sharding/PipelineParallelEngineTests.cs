using LlmEngine.Actors.Engine;
using LlmEngine.Kernels.Sampling;
using LlmEngine.Tests.Engine;
using LlmEngine.Tests.Families;
using LlmEngine.Tests.Loading;
using LlmEngine.Tests.Models;
using static LlmEngine.Tests.Sharding.TensorParallelEngineTests;

namespace LlmEngine.Tests.Sharding;

/// <summary>The engine with --pipeline-parallel-size 2, alone and with two tensor-parallel ranks per
/// stage, generates the greedy tokens of the whole model: run.c's on stories260K, transformers' on the
/// tiny GPT-2, OPT and grouped-query LLaMA, and the dense reference's under forced preemption
/// (<see cref="PipelineParallelPreemptionTests"/>).</summary>
public class PipelineParallelEngineTests
{
    [Theory]
    [InlineData(1, 2)]
    [InlineData(2, 2)]
    public async Task Stories260KGeneratesRunCTokensOnEveryReferencePrompt(int ranks, int stages)
    {
        await using var engine = InferenceEngine.Start(new EngineOptions
        {
            Model = SharedModels.Stories260K, NumBlocks = 64, TensorParallelSize = ranks, PipelineParallelSize = stages,
        });
        await AssertRunCTokensOnEveryReferencePrompt(engine);
        Assert.True(engine.PipelineBoundaries.Boundaries > 0, "hidden states were meant to cross the stage boundary");
    }

    [Theory]
    [InlineData("gpt2", 1)]
    [InlineData("opt", 1)]
    [InlineData("llama", 1)]
    [InlineData("gpt2", 2)]
    [InlineData("opt", 2)]
    [InlineData("llama", 2)]
    public async Task TinyModelsGenerateTransformersGreedyTokens(string family, int ranks)
    {
        var reference = TinyHfReference.Of(family);
        await using var engine = InferenceEngine.Start(new EngineOptions
        {
            Model = SharedModels.TinyHf(family), NumBlocks = 64, TensorParallelSize = ranks, PipelineParallelSize = 2,
        });
        await AssertTransformersGreedyTokens(engine, reference);
    }
}
