using LlmEngine.Tests.Families;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace LlmEngine.Tests.Gguf;

/// <summary>GGUF files written by llama.cpp's converter and quantizer, loaded with every weight decoded
/// exactly to float32, give llama.cpp's float32 results: last-position logits within 1e-4 and the same
/// greedy tokens, on the dense path and on the paged path. For quantized files the reference is llama.cpp
/// on the same weights dequantized by ggml (dequant/), which checks every block type's decoding. The
/// quick suite runs the dense logits of every file; the Slow suite (GgufReferenceSlowTests) the rest.</summary>
public class GgufReferenceTests(ITestOutputHelper output)
{
    private const float Tolerance = 1e-4f;

    public static TheoryData<string, bool> Files()
    {
        var data = new TheoryData<string, bool>();
        foreach (var file in GgufReference.FloatFiles) data.Add(file, false);
        foreach (var file in GgufReference.QuantizedFiles) data.Add(file, true);
        return data;
    }

    [Theory]
    [MemberData(nameof(Files))]
    public void DenseLastPositionLogitsMatchLlamaCpp(string file, bool dequantized) =>
        LastPositionLogitsMatch(file, dequantized, AttentionPath.Dense, output);

    [Fact]
    public void DenseGreedyContinuationsOfTheRandomF32ModelMatchLlamaCpp() =>
        GreedyMatches("random-d256-f32.gguf", false, AttentionPath.Dense);

    internal static void LastPositionLogitsMatch(string file, bool dequantized, AttentionPath path, ITestOutputHelper output)
    {
        var reference = GgufReference.Of(file, dequantized);
        using var loaded = GgufReference.LoadModel(file, dequantize: true);
        var logits = path.PromptLogits(loaded.Model, reference.Inputs);
        using var last = stack(logits.Select(l => l[-1]).ToArray());
        foreach (var l in logits) l.Dispose();
        float error = TinyHfReference.MaxAbsError(last, reference.LastLogits);
        output.WriteLine($"{file} {path}: last-position logits max abs error {error:E2}");
        Assert.True(error <= Tolerance, $"max abs error {error}");
    }

    internal static void GreedyMatches(string file, bool dequantized, AttentionPath path)
    {
        var reference = GgufReference.Of(file, dequantized);
        using var loaded = GgufReference.LoadModel(file, dequantize: true);
        var continuations = path.Greedy(loaded.Model, reference.Inputs, reference.Greedy.Max(g => g.Length));
        for (int i = 0; i < reference.Inputs.Length; i++)
            Assert.Equal(reference.Greedy[i], continuations[i][..reference.Greedy[i].Length]);
    }
}

[Trait("Category", "Slow")]
public class GgufReferenceSlowTests(ITestOutputHelper output)
{
    public static TheoryData<string, bool, string> FilesAndPaths() => On(AttentionPath.Dense, AttentionPath.All[1]);

    public static TheoryData<string, bool, string> FilesPaged() => On(AttentionPath.All[1]);

    private static TheoryData<string, bool, string> On(params AttentionPath[] paths)
    {
        var data = new TheoryData<string, bool, string>();
        foreach (var path in paths)
            foreach (var (file, dequantized) in GgufReference.FloatFiles.Select(f => (f, false)).Concat(GgufReference.QuantizedFiles.Select(f => (f, true))))
                data.Add(file, dequantized, path.Name);
        return data;
    }

    [Theory]
    [MemberData(nameof(FilesAndPaths))]
    public void GreedyContinuationsOfEveryInputMatchLlamaCpp(string file, bool dequantized, string path) =>
        GgufReferenceTests.GreedyMatches(file, dequantized, AttentionPath.Named(path));

    [Theory]
    [MemberData(nameof(FilesPaged))]
    public void PagedLastPositionLogitsOfEveryInputMatchLlamaCpp(string file, bool dequantized, string path) =>
        GgufReferenceTests.LastPositionLogitsMatch(file, dequantized, AttentionPath.Named(path), output);
}
