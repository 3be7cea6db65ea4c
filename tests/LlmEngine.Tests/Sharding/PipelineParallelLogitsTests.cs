using LlmEngine.Kernels.Loading;
using LlmEngine.Kernels.Runtime;
using LlmEngine.Kernels.Sharding;
using LlmEngine.Kernels.Workers;
using static LlmEngine.Tests.Sharding.TensorParallelLogitsTests;

namespace LlmEngine.Tests.Sharding;

/// <summary>A model split into pipeline stages computes the whole model's logits to the bit (the
/// same operations in the same order, only on different stages' layers and caches), for a prompt
/// step and a decode step that reads every stage's cache; stages of tensor-parallel ranks (T x P)
/// within 1e-5 relative, as tensor parallelism alone.</summary>
public class PipelineParallelLogitsTests
{
    public static TheoryData<string, int> Stages() => new()
    {
        { "stories260K", 2 },
        // 5 layers in 3 stages: 2, 2 and 1.
        { "stories260K", 3 },
        { "gpt2", 2 },
        { "opt", 2 },
        { "llama", 2 },
    };

    [Theory]
    [MemberData(nameof(Stages))]
    public void StagedLogitsEqualTheWholeModelBitForBit(string model, int stages)
    {
        using var whole = Worker.Create(Options(model, 1));
        using var staged = Worker.Create(Options(model, 1, stages));
        var pipeline = Assert.IsType<PipelineRunner>(staged.Runner);
        foreach (var step in Steps(Prompts))
        {
            using var expected = whole.Runner.Forward(step)!;
            using var actual = staged.Runner.Forward(step)!;
            Assert.Equal(expected.shape, actual.shape);
            Assert.True(expected.equal(actual).all().item<bool>(), $"{model} in {stages} stages: logits differ (max |difference| {(actual - expected).abs().max().item<float>():G3})");
        }
        // Each boundary carries the step's hidden states: (7 + 12 prompt tokens + 2 decode tokens) x hidden x 4 bytes.
        Assert.Equal(2 * (stages - 1), pipeline.Boundaries);
        Assert.Equal((stages - 1) * (Prompts.Sum(p => p.Length) + 2) * whole.Model.Config.HiddenSize * 4L, pipeline.BoundaryBytes);
    }

    /// <summary>Stages on worker nodes (the cluster backend): the first stage holds the final norm and the LM
    /// head, since the head node samples, and the last returns its sample rows' hidden states (hidden values
    /// per row, not vocabulary-sized logits); the logits the first stage computes from them are the whole
    /// model's to the bit (with two ranks per stage within 1e-5 relative, as tensor parallelism alone).</summary>
    [Theory]
    [InlineData("stories260K", 1)]
    [InlineData("gpt2", 1)]
    [InlineData("opt", 1)]
    [InlineData("llama", 1)]
    [InlineData("llama", 2)]
    public void WithTheHeadOnTheFirstStageTheLastSendsBackHiddenRowsAndTheLogitsStayTheSame(string model, int ranks)
    {
        using var whole = Worker.Create(Options(model, 1));
        var options = Options(model, ranks, 2);
        var first = Worker.Stage(options, PipelineStage.Of(0, 2) with { HeadOnFirst = true });
        var last = Worker.Stage(options, PipelineStage.Of(1, 2) with { HeadOnFirst = true });
        using var split = Worker.Over(first, [last.Runner, new HeadStageRunner((IHeadRunner)first.Runner)], last.Resources);
        var pipeline = Assert.IsType<PipelineRunner>(split.Runner);
        foreach (var step in Steps(Prompts))
        {
            using var expected = whole.Runner.Forward(step)!;
            using var actual = pipeline.Forward(step)!;
            Assert.Equal(expected.shape, actual.shape);
            double error = (actual - expected).abs().max().item<float>();
            double bound = ranks == 1 ? 0 : 1e-5 * expected.abs().max().item<float>();
            Assert.True(error <= bound, $"{model}, {ranks} rank(s) per stage: max |difference| {error:G3}");
        }
        // Hidden states forward, (7 + 12 + 2) tokens, and back the sample rows' (every token samples in these steps).
        Assert.Equal(4, pipeline.Boundaries);
        Assert.Equal(2 * (Prompts.Sum(p => p.Length) + 2) * whole.Model.Config.HiddenSize * 4L, pipeline.BoundaryBytes);
    }

    [Theory]
    [InlineData("stories260K")]
    [InlineData("gpt2")]
    [InlineData("opt")]
    [InlineData("llama")]
    public void TwoStagesOfTwoRanksMatchTheWholeModel(string model)
    {
        using var whole = Worker.Create(Options(model, 1));
        using var split = Worker.Create(Options(model, 2, 2));
        AssertLogitsClose(whole, split, $"{model} T=2 x P=2");
    }

    [Fact]
    public void MoreStagesThanLayersAreRefusedWithTheReason()
    {
        // The tiny GPT-2 has two layers.
        var error = Assert.Throws<ModelLoadException>(() => Worker.Create(Options("gpt2", 1, 3)));
        Assert.Contains("--pipeline-parallel-size 3: 2 layers cannot be split into 3 stages", error.Message);
    }

    [Fact]
    public void AFamilyThatIsNotStagedYetIsRefusedByName()
    {
        var error = Assert.Throws<ModelLoadException>(() => Worker.Create(Options("qwen2", 1, 2)));
        Assert.Contains("pipeline parallelism splits the LLaMA, GPT-2 and OPT families; Qwen2 is not split yet", error.Message);
    }

    [Theory]
    [InlineData(5, 2, new[] { 0, 3 }, new[] { 3, 2 })]
    [InlineData(12, 4, new[] { 0, 3, 6, 9 }, new[] { 3, 3, 3, 3 })]
    [InlineData(2, 2, new[] { 0, 1 }, new[] { 1, 1 })]
    public void LayersSplitEvenlyWithTheRemainderOnTheFirstStages(int layers, int size, int[] firsts, int[] counts)
    {
        var split = Enumerable.Range(0, size).Select(s => PipelineStage.Of(s, size).LayersOf(layers)).ToArray();
        Assert.Equal(firsts, split.Select(s => s.First));
        Assert.Equal(counts, split.Select(s => s.Count));
    }
}
