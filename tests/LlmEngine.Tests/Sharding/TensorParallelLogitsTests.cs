using LlmEngine.Kernels.Loading;
using LlmEngine.Kernels.Runtime;
using LlmEngine.Kernels.Sampling;
using LlmEngine.Kernels.Workers;
using LlmEngine.Scheduling;
using LlmEngine.Tests.Loading;
using TorchSharp;

namespace LlmEngine.Tests.Sharding;

/// <summary>A model split over tensor-parallel ranks computes the logits of the whole model: a
/// prompt step (every position's logits) and a decode step that reads the ranks' caches, within
/// 1e-5 relative (only the summation order of the row-parallel products differs).</summary>
public class TensorParallelLogitsTests
{
    public static TheoryData<string, int> Splits() => new()
    {
        { "stories260K", 2 },
        { "stories260K", 4 },
        { "gpt2", 2 },
        { "opt", 2 },
        { "llama", 2 },
        // 2 key/value heads over 4 ranks: each key/value head is replicated on two ranks.
        { "llama", 4 },
    };

    internal static string PathOf(string model) => model == "stories260K" ? SharedModels.Stories260K : SharedModels.TinyHf(model);

    internal static WorkerOptions Options(string model, int size, int stages = 1) => new()
    {
        Model = PathOf(model), LoadFormat = "auto", DType = "float32", Device = "cpu", NumBlocks = 16, BlockSize = 16,
        TensorParallelSize = size, PipelineParallelSize = stages,
    };

    [Theory]
    [MemberData(nameof(Splits))]
    public void SplitLogitsMatchTheWholeModel(string model, int size)
    {
        using var whole = Worker.Create(Options(model, 1));
        using var split = Worker.Create(Options(model, size));
        AssertLogitsClose(whole, split, $"{model} over {size} ranks");
    }

    /// <summary>Both workers' logits of <see cref="Steps"/> agree within 1e-5 of the largest logit.</summary>
    internal static void AssertLogitsClose(Worker whole, Worker split, string label)
    {
        foreach (var step in Steps(Prompts))
        {
            using var expected = whole.Runner.Forward(step)!;
            using var actual = split.Runner.Forward(step)!;
            Assert.Equal(expected.shape, actual.shape);
            double scale = expected.abs().max().item<float>();
            double error = (actual - expected).abs().max().item<float>();
            Assert.True(error <= 1e-5 * scale, $"{label}: max |difference| {error:G3} vs max |logit| {scale:G3}");
        }
    }

    [Fact]
    public void AModelThatDoesNotSplitEvenlyIsRefusedWithTheReason()
    {
        using var temporaries = torch.NewDisposeScope();
        // stories260K has 8 query heads and 4 key/value heads.
        var error = Assert.Throws<ModelLoadException>(() => Worker.Create(Options("stories260K", 3)));
        Assert.Contains("--tensor-parallel-size 3: 8 attention heads do not split evenly over 3 ranks", error.Message);
    }

    [Fact]
    public void AFamilyThatIsNotSplitYetIsRefusedByName()
    {
        using var temporaries = torch.NewDisposeScope();
        var error = Assert.Throws<ModelLoadException>(() => Worker.Create(Options("qwen2", 2) with { Model = SharedModels.TinyHf("qwen2") }));
        Assert.Contains("tensor parallelism splits the LLaMA, GPT-2 and OPT families; Qwen2 is not split yet", error.Message);
    }

    internal static readonly int[][] Prompts = [[5, 17, 99, 3, 250, 7, 42], [11, 300, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21]];

    // Step 1: both prompts whole, every position's logits. Step 2: one decode token each.
    internal static IEnumerable<ModelStep> Steps(int[][] prompts)
    {
        var sampling = new SamplingParameters { Temperature = 0 };
        SamplingRow Row(int[] prompt) => new(sampling, prompt, [], 0, [], 0);
        int[][] tables = [[3], [9]];
        int tokens = prompts.Sum(p => p.Length);
        yield return new ModelStep([0, 1], [.. prompts[0], .. prompts[1]],
            [.. Enumerable.Range(0, prompts[0].Length), .. Enumerable.Range(0, prompts[1].Length)],
            [0, prompts[0].Length, tokens], [prompts[0].Length, prompts[1].Length], tables,
            [.. Enumerable.Range(0, prompts[0].Length).Select(p => 3L * 16 + p), .. Enumerable.Range(0, prompts[1].Length).Select(p => 9L * 16 + p)],
            Enumerable.Range(0, tokens).ToArray(), Enumerable.Range(0, tokens).ToArray(),
            Enumerable.Range(0, tokens).Select(i => Row(i < prompts[0].Length ? prompts[0] : prompts[1])).ToArray(), CacheOperationsPlan.None);
        int a = prompts[0].Length, b = prompts[1].Length;
        yield return new ModelStep([0, 1], [8, 400], [a, b], [0, 1, 2], [a + 1, b + 1], tables, [3L * 16 + a, 9L * 16 + b],
            [0, 1], [0, 1], [Row(prompts[0]), Row(prompts[1])], CacheOperationsPlan.None);
    }
}
