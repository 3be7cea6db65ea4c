using System.Text.Json;
using LlmEngine.Tests.Cli;
using LlmEngine.Tests.Loading;

namespace LlmEngine.Tests.Gguf;

/// <summary>
/// A Q4_K_M GGUF file through the whole engine (the <c>generate</c> command: scheduler, paged KV cache
/// in blocks of 8, all of llama.cpp's inputs batched together) against llama.cpp's greedy tokens on the
/// same file: on the quantized kernels up to the first step where llama.cpp's own top-2 gap falls
/// below its repacking noise, and with the blocks decoded to float32 for every step of the
/// dequantized reference (its smallest gap, 0.007, is far above float32 noise).
/// </summary>
[Trait("Category", "Slow")]
public class GgufGenerateEndToEndTests
{
    private const string File = "random-d256-q4_k_m.gguf";

    [Fact]
    public async Task QuantizedKernelsGiveLlamaCppsTokensWhileItsGapIsAboveTheNoise()
    {
        var reference = GgufReference.Of(File, dequantized: false);
        var generated = await Generate(reference, "--block-size", "8");
        int compared = 0;
        for (int i = 0; i < reference.Inputs.Length; i++)
        {
            int steps = Array.FindIndex(reference.Top2Gaps[i], g => g < GgufQuantizedKernelTests.GapFloor);
            if (steps < 0) steps = reference.Greedy[i].Length;
            Assert.Equal(reference.Greedy[i][..steps], generated[i][..steps]);
            compared += steps;
        }
        Assert.True(compared > 0, "llama.cpp's gaps leave no step to compare");
    }

    [Fact]
    public async Task DecodedBlocksGiveLlamaCppsDequantizedTokensExactly()
    {
        var reference = GgufReference.Of(File, dequantized: true);
        var generated = await Generate(reference, "--block-size", "8", "--quantization", "none", "--dtype", "float32");
        for (int i = 0; i < reference.Inputs.Length; i++) Assert.Equal(reference.Greedy[i], generated[i]);
    }

    private static async Task<int[][]> Generate(GgufReference reference, params string[] options)
    {
        using var dir = new TempDir();
        System.IO.File.WriteAllLines(dir.File("in.jsonl"), reference.Inputs.Select((ids, i) =>
            JsonSerializer.Serialize(new { prompt_token_ids = ids, max_tokens = reference.Greedy[i].Length, ignore_eos = true })));
        var result = await CliProcess.Run([
            "generate", "--model", GgufReference.ModelPath(File), "--input", dir.File("in.jsonl"), "--output", dir.File("out.jsonl"),
            "--temperature", "0", "--max-model-len", GgufReference.Context.ToString(), .. options]);
        Assert.True(result.ExitCode == 0, result.Error);
        return System.IO.File.ReadAllLines(dir.File("out.jsonl"))
            .Select(l => JsonDocument.Parse(l).RootElement.GetProperty("token_ids").EnumerateArray().Select(x => x.GetInt32()).ToArray())
            .ToArray();
    }
}
