using System.Text.Json;
using LlmEngine.Host.Bench;
using LlmEngine.Kernels.Structured;
using LlmEngine.Tests.Loading;

namespace LlmEngine.Tests.Bench;

/// <summary><c>bench guided</c> end to end on stories260K (figures in its JSON that add up), its
/// synthetic vocabulary and measurement, and its refusals.</summary>
public sealed class GuidedBenchTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task ReportsMaskCostBesideStepTimeForEachBatchSize()
    {
        Assert.Equal(0, await BenchCommandTests.Run("guided", "--model", SharedModels.Stories260K, "--batch-sizes", "1,4", "--steps", "6",
            "--input-len", "8", "--output-len", "4", "--output-json", _dir.File("g.json")));

        var json = JsonDocument.Parse(File.ReadAllText(_dir.File("g.json"))).RootElement;
        Assert.Equal(512, json.GetProperty("vocab_size").GetInt32());
        Assert.All(json.GetProperty("compile_ms").EnumerateArray(), c => Assert.True(c.GetDouble() > 0));
        var rows = json.GetProperty("rows").EnumerateArray().ToList();
        Assert.Equal([1, 4], rows.Select(r => r.GetProperty("batch_size").GetInt32()));
        foreach (var r in rows)
        {
            double step = r.GetProperty("step_ms").GetDouble(), mask = r.GetProperty("mask_ms").GetDouble(), extra = r.GetProperty("sampler_extra_ms").GetDouble();
            Assert.True(step > 0 && mask > 0 && extra >= 0);
            Assert.Equal(mask + extra, r.GetProperty("constraint_ms").GetDouble(), 9);
            Assert.Equal((mask + extra) / step, r.GetProperty("share_of_step").GetDouble(), 9);
        }
    }

    [Fact]
    public void TheSyntheticVocabularyHasDistinctPiecesAndAMeasuredRowAddsUp()
    {
        var vocabulary = SyntheticVocabulary.Create(4000, seed: 1);
        Assert.Equal(4000, vocabulary.Size);
        // Past the 256 byte-fallback tokens (which single-character pieces repeat, as in LLaMA's vocabulary).
        var texts = vocabulary.Bytes.Skip(3 + 256).Select(Convert.ToHexString).ToList();
        Assert.Equal(texts.Count, texts.Distinct().Count());
        Assert.Equal([SyntheticVocabulary.Eos], vocabulary.EndTokens);

        var guide = new GuideCompiler(vocabulary).Compile(new GuideSpec(GuideKind.JsonSchema, GuidedCommand.DefaultSchema));
        var row = GuidedBench.Measure(guide, batchSize: 3, steps: 40, stepMilliseconds: 10, seed: 2);
        Assert.Equal((3, 40), (row.BatchSize, row.Steps));
        Assert.True(row.MaskMilliseconds > 0 && row.MaxMaskMilliseconds >= row.MaskMilliseconds);
        Assert.Equal(row.GuidedMilliseconds / 10, row.Share, 12);
    }

    [Theory]
    [InlineData("--steps", "0")]
    [InlineData("--batch-sizes", "0")]
    [InlineData("--schema", "missing.json")]
    [InlineData("--schema", "bad.json")]
    public async Task BadOptionsFailWithANonZeroExit(string option, string value)
    {
        File.WriteAllText(_dir.File("bad.json"), """{"type": "object", "properties": "nope"}""");
        var argument = option == "--schema" ? _dir.File(value) : value;
        Assert.NotEqual(0, await BenchCommandTests.Run("guided", "--model", SharedModels.Stories260K, "--batch-sizes", "1", "--steps", "2",
            "--input-len", "4", "--output-len", "2", option, argument));
    }
}
