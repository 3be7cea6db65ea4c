using System.Text.Json;
using LlmEngine.Tests.Loading;
using LlmEngine.Tests.Models;

namespace LlmEngine.Tests.Cli;

/// <summary>The generate command end to end: reference reproduction through the paged engine
/// under preemption, statistics, and how bad input is reported.</summary>
[Trait("Category", "Slow")]
public class GenerateCommandTests
{
    [Theory]
    [InlineData("swap")]
    [InlineData("recompute")]
    public async Task ReproducesRunCUnderPreemptionAndFreesEveryBlock(string mode)
    {
        using var dir = new TempDir();
        var rows = Stories260KReferenceTests.Rows;
        File.WriteAllLines(dir.File("in.jsonl"), rows.Select(r => JsonSerializer.Serialize(new { prompt = r.Prompt, max_tokens = r.Generated.Length })));
        var result = await CliProcess.Run("generate", "--model", SharedModels.Stories260K, "--input", dir.File("in.jsonl"), "--output", dir.File("out.jsonl"),
            "--temperature", "0", "--block-size", "8", "--num-blocks", "40", "--preemption-mode", mode, "--swap-space", "0.01", "--stats", dir.File("stats.json"));
        Assert.True(result.ExitCode == 0, result.Error);
        var lines = File.ReadAllLines(dir.File("out.jsonl")).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(rows.Count, lines.Count);
        for (int i = 0; i < rows.Count; i++)
        {
            Assert.Equal(rows[i].PromptIds, lines[i].GetProperty("prompt_token_ids").EnumerateArray().Select(x => x.GetInt32()));
            Assert.Equal(rows[i].Generated, lines[i].GetProperty("token_ids").EnumerateArray().Select(x => x.GetInt32()));
        }
        var stats = JsonDocument.Parse(File.ReadAllText(dir.File("stats.json"))).RootElement;
        Assert.True(stats.GetProperty("num_preemptions").GetInt64() > 0);
        Assert.Equal(stats.GetProperty("blocks_total").GetInt32(), stats.GetProperty("blocks_free_at_end").GetInt32());
        if (mode == "swap") Assert.True(stats.GetProperty("num_swapped_out").GetInt64() > 0);
    }

    [Fact]
    public async Task BadLineIsReportedAndTheOthersStillRun()
    {
        using var dir = new TempDir();
        File.WriteAllLines(dir.File("in.jsonl"), ["{\"prompt\": \"Once upon a time\", \"max_tokens\": 4}", "{not json", "{\"prompt\": \"The cat\", \"max_tokens\": 3, \"temperature\": -1}", "{\"prompt\": \"Lily\", \"max_tokens\": 2}"]);
        var result = await CliProcess.Run("generate", "--model", SharedModels.Stories260K, "--input", dir.File("in.jsonl"), "--temperature", "0");
        Assert.Equal(1, result.ExitCode);
        var lines = result.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, lines.Length);
        Assert.Contains("line 2:", result.Error);
        Assert.Contains("line 3: temperature", result.Error);
        Assert.Equal(4, JsonDocument.Parse(lines[0]).RootElement.GetProperty("token_ids").GetArrayLength());
    }

    [Theory]
    [InlineData("--model", "/no/such/model")]
    [InlineData("--block-size", "64")]
    [InlineData("--dtype", "int8")]
    [InlineData("--max-tokens", "many")]
    public async Task BadArgumentsGiveOneLineAndANonZeroExit(string option, string value)
    {
        var result = await CliProcess.Run("generate", "--prompt", "hi", option, value);
        Assert.NotEqual(0, result.ExitCode);
        Assert.DoesNotContain("   at ", result.Error);
        Assert.Empty(result.Output.Trim());
    }

    [Fact]
    public async Task DefaultModelRunsAndSaysSo()
    {
        var result = await CliProcess.Run("generate", "--prompt", "Hello", "--max-tokens", "5", "--seed", "1");
        Assert.True(result.ExitCode == 0, result.Error);
        Assert.Contains("embedded default model", result.Error);
        Assert.Equal(5, JsonDocument.Parse(result.Output).RootElement.GetProperty("token_ids").GetArrayLength());
    }
}
