using LlmEngine.Kernels.Attention;
using LlmEngine.Kernels.Cache;
using LlmEngine.Kernels.Loading.Gguf;
using LlmEngine.Kernels.Models;
using LlmEngine.Kernels.Native;
using LlmEngine.Kernels.Quantization;
using LlmEngine.Tests.Families;
using TorchSharp;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace LlmEngine.Tests.Gguf;

/// <summary>
/// Quantized GGUF files computed on their blocks (the native quantized kernels, activations quantized
/// on the fly as llama.cpp does; F16 weights on F16-rounded activations) against llama.cpp's quantized
/// path on the same files, and against the same files decoded to float32 on inputs of their own.
/// </summary>
/// <remarks>
/// Logit tolerance: a quantized path is discontinuous. Rounding an activation to its block's 1/127
/// steps turns a last-bit difference in a sum (llama.cpp adds its lanes in another order) into a
/// whole step now and then, which the following layers carry to the logits. llama.cpp's own
/// configurations differ from each other by exactly this noise: its repacked against unrepacked
/// weights by up to 0.13, its F16 against F32 KV cache by 0.05-0.35 on these files. So each input's
/// last-position logits must be within <see cref="LogitTolerance"/> (0.2, inside that noise), and at
/// least half the inputs, where no rounding flips, must be bit-close (error below 1e-3): that is what
/// shows the activations are quantized exactly as llama.cpp quantizes them. (Inputs whose logits
/// llama.cpp's repacking itself moved, e.g. Q4_K_M's longer ones, are left out of that count: there the
/// errors found equal llama.cpp's own repacked-vs-plain differences.) Decoding the weights to
/// float32 instead misses llama.cpp's quantized logits by 0.07-0.3 on every input.
/// </remarks>
public class GgufQuantizedKernelTests(ITestOutputHelper output)
{
    /// <summary>llama.cpp's repacked weight layouts alone move its logits by up to ~0.14 (README of
    /// ../shared/reference/gguf): a greedy choice whose top-2 gap is below this is noise.</summary>
    public const float GapFloor = 0.15f;

    public const float LogitTolerance = 0.2f;
    public const float BitClose = 1e-3f;

    /// <summary>The quantized files whose every matrix (but the embedding, looked up exactly) the native
    /// kernels take as stored (F16 runs on F16-rounded activations, as llama.cpp's).</summary>
    public static TheoryData<string> Files()
    {
        var data = new TheoryData<string>();
        foreach (var file in GgufReference.QuantizedFiles.Where(Covered)) data.Add(file);
        return data;
    }

    private static bool Covered(string file)
    {
        using var gguf = GgufFile.Open(GgufReference.ModelPath(file));
        return gguf.Tensors.Values.Where(t => t.Shape.Length == 2 && t.Name != "token_embd.weight")
            .All(t => t.Type == GgmlType.F16 || NativeKernels.QuantizedLinearSupports(t.Type));
    }

    /// <summary>The engine's own path for these files: paged native attention over the cache that
    /// <c>--kv-cache-dtype auto</c> gives quantized weights, float16 (llama.cpp's default cache).</summary>
    internal static readonly AttentionPath Float16Cache = new("native, blocks of 16, chunks of 7, float16 cache", 16, 7, AttentionBackends.Native, ScalarType.Float16);

    [Theory]
    [MemberData(nameof(Files))]
    public void LastPositionLogitsAreLlamaCppsQuantizedOnes(string file)
    {
        using var temporaries = torch.NewDisposeScope();
        Assert.True(NativeKernels.IsAvailable, NativeKernels.UnavailableReason);
        var reference = GgufReference.Of(file, dequantized: false);
        var errors = LastLogitErrors(file, reference, AttentionPath.Dense);
        Assert.All(errors, e => Assert.InRange(e, 0, LogitTolerance));
        // Inputs on which llama.cpp's repacked layout moved its own logits compare with another computation.
        var comparable = errors.Where((e, i) => reference.RepackShift[i] < BitClose).ToArray();
        Assert.True(2 * comparable.Count(e => e < BitClose) >= comparable.Length, "fewer than half the inputs are bit-close to llama.cpp's logits");
    }

    /// <remarks>
    /// The references ran llama.cpp with a float32 K/V cache (the dense path above matches them); its runs
    /// with its default float16 cache moved each input's last logits by a distance the file keeps
    /// (<see cref="GgufFloat16CacheRuns.LastLogitsShift"/>, 0.05-0.35). On a one-token input the attention
    /// output is the one cached value row, which llama.cpp and this engine both round to float16 to nearest
    /// even: there the engine's logits must move exactly as llama.cpp's did (to <see cref="BitClose"/>). On
    /// longer inputs llama.cpp's float16 matrix products also round the queries and the softmax weights to
    /// float16, which this engine keeps in float32, so the moves differ; each stays within llama.cpp's own
    /// move plus the quantized path's noise (<see cref="LogitTolerance"/>).
    /// </remarks>
    [Theory]
    [MemberData(nameof(Files))]
    public void OnTheFloat16CacheAutoGivesThemLogitsMoveAsLlamaCppsDoOnItsFloat16Cache(string file)
    {
        using var temporaries = torch.NewDisposeScope();
        Assert.True(NativeKernels.IsAvailable, NativeKernels.UnavailableReason);
        using (var loaded = GgufReference.LoadModel(file, dequantize: false))
            Assert.Equal(ScalarType.Float16, KvCacheDTypes.Of(KvCacheDTypes.Auto, loaded.Model.DType, loaded.QuantizedWeights));
        var reference = GgufReference.Of(file, dequantized: false);
        var moved = reference.Float16Cache!.LastLogitsShift;
        var errors = LastLogitErrors(file, reference, Float16Cache);
        output.WriteLine($"{file}: llama.cpp's own float16-cache move per input {string.Join(", ", moved.Select(e => e.ToString("F4")))}");
        int oneToken = 0;
        for (int i = 0; i < errors.Length; i++)
        {
            Assert.InRange(errors[i], 0, moved[i] + LogitTolerance);
            if (reference.Inputs[i].Length > 1 || reference.RepackShift[i] >= BitClose) continue;
            Assert.InRange(Math.Abs(errors[i] - moved[i]), 0, BitClose);
            oneToken++;
        }
        Assert.True(oneToken > 0, "no one-token input to compare exactly");
    }

    private float[] LastLogitErrors(string file, GgufReference reference, AttentionPath path)
    {
        using var loaded = GgufReference.LoadModel(file, dequantize: false);
        var errors = LastLogits(loaded.Model, reference.Inputs, path).Select((last, i) =>
        {
            using (last)
            using (var expected = tensor(reference.LastLogits[i]))
                return last.sub(expected).abs().max().item<float>();
        }).ToArray();
        output.WriteLine($"{file} ({path}): max abs error per input {string.Join(", ", errors.Select(e => e.ToString("F4")))}");
        return errors;
    }

    [Fact]
    public void GreedyTokensOfTheRandomQ8_0FileAreLlamaCppsWhileItsGapIsAboveTheNoise() =>
        GreedyMatches("random-d256-q8_0.gguf", AttentionPath.Dense, output);

    [Fact]
    public void OnTheFloat16CacheGreedyTokensOfTheRandomQ8_0FileAreLlamaCppsOnItsFloat16Cache() =>
        GreedyMatches("random-d256-q8_0.gguf", Float16Cache, output);

    [Theory]
    [MemberData(nameof(Files))]
    public void OnInputsOfTheirOwnTheKernelsAgreeWithTheDecodedWeights(string file)
    {
        using var temporaries = torch.NewDisposeScope();
        // Other inputs than llama.cpp's: the quantized path against the exact float32 one. They differ
        // by activation quantization only (0.1-0.3 on llama.cpp's inputs), and choose the same token
        // wherever the float32 path's own top-2 gap is wider than that.
        var random = new Random(file.Length * 7919);
        int[][] inputs = [.. new[] { 2, 13, 61 }.Select(n => Enumerable.Range(0, n).Select(_ => random.Next(3, 512)).ToArray())];
        using var quantized = GgufReference.LoadModel(file, dequantize: false);
        using var decoded = GgufReference.LoadModel(file, dequantize: true);
        var fast = LastLogits(quantized.Model, inputs, AttentionPath.Dense);
        var exact = LastLogits(decoded.Model, inputs, AttentionPath.Dense);
        for (int i = 0; i < inputs.Length; i++)
        {
            float error = fast[i].sub(exact[i]).abs().max().item<float>();
            var top = exact[i].topk(2);
            float gap = (top.values[0] - top.values[1]).item<float>();
            output.WriteLine($"{file} input of {inputs[i].Length}: max abs difference {error:F4}, float32 top-2 gap {gap:F3}");
            Assert.InRange(error, 1e-6f, 0.5f);
            if (gap > 2 * error) Assert.Equal(exact[i].argmax().item<long>(), fast[i].argmax().item<long>());
        }
        foreach (var t in fast.Concat(exact)) t.Dispose();
    }

    /// <summary>Greedy tokens on <paramref name="path"/> against llama.cpp's with the same kind of cache (its
    /// float16-cache runs for a float16 cache, else its float32-cache ones), up to the first step where its
    /// own top-2 gap falls below <see cref="GapFloor"/>.</summary>
    internal static void GreedyMatches(string file, AttentionPath path, ITestOutputHelper output)
    {
        var reference = GgufReference.Of(file, dequantized: false);
        var (greedy, gaps) = path.CacheDType == ScalarType.Float16
            ? (reference.Float16Cache!.Greedy, reference.Float16Cache.Top2Gaps)
            : (reference.Greedy, reference.Top2Gaps);
        using var loaded = GgufReference.LoadModel(file, dequantize: false);
        var continuations = path.Greedy(loaded.Model, reference.Inputs, greedy.Max(g => g.Length));
        for (int i = 0; i < reference.Inputs.Length; i++)
        {
            int steps = Array.FindIndex(gaps[i], g => g < GapFloor);
            if (steps < 0) steps = greedy[i].Length;
            output.WriteLine($"{file} ({path}) input {i}: {steps} steps before llama.cpp's gap falls below {GapFloor}");
            Assert.Equal(greedy[i][..steps], continuations[i][..steps]);
        }
    }

    private static Tensor[] LastLogits(ICausalLanguageModel model, int[][] inputs, AttentionPath path)
    {
        var logits = path.PromptLogits(model, inputs);
        var last = logits.Select(l => l[-1].clone()).ToArray();
        foreach (var l in logits) l.Dispose();
        return last;
    }
}

[Trait("Category", "Slow")]
public class GgufQuantizedKernelSlowTests(ITestOutputHelper output)
{
    [Theory]
    [MemberData(nameof(GgufQuantizedKernelTests.Files), MemberType = typeof(GgufQuantizedKernelTests))]
    public void GreedyTokensAreLlamaCppsWhileItsTop2GapIsAboveTheNoise(string file) =>
        GgufQuantizedKernelTests.GreedyMatches(file, AttentionPath.Dense, output);

    [Theory]
    [MemberData(nameof(GgufQuantizedKernelTests.Files), MemberType = typeof(GgufQuantizedKernelTests))]
    public void OnTheFloat16CacheGreedyTokensAreLlamaCppsOnItsFloat16CacheWhileItsGapIsAboveTheNoise(string file) =>
        GgufQuantizedKernelTests.GreedyMatches(file, GgufQuantizedKernelTests.Float16Cache, output);
}
