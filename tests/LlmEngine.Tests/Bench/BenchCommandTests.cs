using System.CommandLine;
using System.Text.Json;
using LlmEngine.Host.Bench;
using LlmEngine.Tests.Loading;

namespace LlmEngine.Tests.Bench;

/// <summary>Each bench command end to end on a few tiny requests (the embedded default model,
/// or stories260K for a 512-token context): exit code 0 and sane figures in its JSON.</summary>
public sealed class BenchCommandTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    internal static async Task<int> Run(params string[] args)
    {
        var root = new RootCommand();
        root.Subcommands.Add(BenchCommand.Create());
        return await root.Parse(["bench", .. args, "--no-progress"]).InvokeAsync();
    }

    private JsonElement Json(string name) => JsonDocument.Parse(File.ReadAllText(_dir.File(name))).RootElement;

    [Fact]
    public async Task ThroughputReportsEveryRequestsTokensAndTheKvShares()
    {
        Assert.Equal(0, await Run("throughput", "--num-prompts", "4", "--input-len", "8", "--output-len", "5", "--num-blocks", "16", "--output-json", _dir.File("t.json")));

        var json = Json("t.json");
        Assert.Equal((4, 20, 52), (json.GetProperty("num_requests").GetInt32(), json.GetProperty("total_output_tokens").GetInt32(), json.GetProperty("total_num_tokens").GetInt32()));
        foreach (var key in new[] { "elapsed_time", "requests_per_second", "tokens_per_second", "output_tokens_per_second" })
            Assert.True(json.GetProperty(key).GetDouble() > 0, key);
        var kv = json.GetProperty("kv_cache");
        Assert.InRange(kv.GetProperty("token_share").GetDouble(), 0.01, 1);
        Assert.Equal(1, kv.GetProperty("token_share").GetDouble() + kv.GetProperty("allocated_unused_share").GetDouble() + kv.GetProperty("free_share").GetDouble(), 6);
        Assert.Equal(16, json.GetProperty("engine_options").GetProperty("num_blocks").GetInt32());
    }

    [Fact]
    public async Task ReservedLayoutRunsAndShowsItsReservationAsUnusedMemory()
    {
        Assert.Equal(0, await Run("throughput", "--num-prompts", "3", "--input-len", "8", "--output-len", "24", "--num-blocks", "16", "--block-size", "4",
            "--kv-layout", "reserved", "--output-json", _dir.File("r.json")));

        var kv = Json("r.json").GetProperty("kv_cache");
        Assert.Equal("reserved", kv.GetProperty("layout").GetString());
        Assert.True(kv.GetProperty("allocated_unused_share").GetDouble() > 0.2);
    }

    [Fact]
    public async Task SharegptLikeRequestsAreClippedToA512TokenModelAndAllComplete()
    {
        Assert.Equal(0, await Run("throughput", "--model", SharedModels.Stories260K, "--dataset", "sharegpt-like", "--num-prompts", "6", "--seed", "3",
            "--output-json", _dir.File("s.json")));

        Assert.Equal(6, Json("s.json").GetProperty("num_requests").GetInt32());
    }

    [Fact]
    public async Task BatchWritesOneRowPerBatchSize()
    {
        Assert.Equal(0, await Run("batch", "--batch-sizes", "1,3", "--input-len", "8", "--output-len", "4", "--output-json", _dir.File("b.json")));

        var rows = Json("b.json").GetProperty("rows").EnumerateArray().ToList();
        Assert.Equal([1, 3], rows.Select(r => r.GetProperty("batch_size").GetInt32()));
        Assert.All(rows, r => Assert.True(r.GetProperty("prompt_tokens_per_second").GetDouble() > 0 && r.GetProperty("generation_tokens_per_second").GetDouble() > 0));
        Assert.All(rows, r => Assert.Equal(0, r.GetProperty("num_preemptions").GetInt32()));
    }

    [Fact]
    public async Task BatchReportsTheMedianOfItsPromptRounds()
    {
        Assert.Equal(0, await Run("batch", "--batch-sizes", "2", "--input-len", "8", "--output-len", "3", "--output-json", _dir.File("m.json")));

        var row = Json("m.json").GetProperty("rows")[0];
        var rounds = row.GetProperty("prompt_round_seconds").EnumerateArray().Select(r => r.GetDouble()).Order().ToList();
        Assert.Equal(BatchBench.PromptRounds(2, 8), rounds.Count);
        Assert.Equal(rounds[rounds.Count / 2], row.GetProperty("prompt_seconds").GetDouble());
        Assert.Equal(2 * 8 / rounds[rounds.Count / 2], row.GetProperty("prompt_tokens_per_second").GetDouble(), 1e-9);
    }

    [Theory]
    [InlineData(1, 128, 9)]
    [InlineData(2, 128, 5)]
    [InlineData(3, 128, 3)]
    [InlineData(8, 128, 1)]
    [InlineData(64, 128, 1)]
    [InlineData(1, 8, 9)]
    public void PromptRoundsHoldAThousandTokensInAnOddNumberOfAtMostNineRounds(int batchSize, int inputLength, int rounds) =>
        Assert.Equal(rounds, BatchBench.PromptRounds(batchSize, inputLength));

    [Fact]
    public async Task ServeCompletesEveryRequestAgainstAnInProcessServer()
    {
        Assert.Equal(0, await Run("serve", "--start-server", "--num-prompts", "5", "--input-len", "8", "--output-len", "6", "--request-rate", "50",
            "--num-blocks", "32", "--output-json", _dir.File("v.json")));

        var json = Json("v.json");
        Assert.Equal((5, 0, 30), (json.GetProperty("completed").GetInt32(), json.GetProperty("failed").GetInt32(), json.GetProperty("total_output_tokens").GetInt32()));
        foreach (var key in new[] { "duration", "request_throughput", "output_throughput", "total_token_throughput", "mean_ttft_ms", "median_ttft_ms", "p99_ttft_ms",
                     "mean_tpot_ms", "mean_itl_ms", "mean_e2el_ms", "p99_e2el_ms", "mean_normalized_latency" })
            Assert.True(json.GetProperty(key).GetDouble() > 0, key);
        Assert.True(json.GetProperty("mean_e2el_ms").GetDouble() >= json.GetProperty("mean_ttft_ms").GetDouble());
    }

    [Fact]
    public async Task ServeRunsAgainstARunningServerByItsUrl()
    {
        await using var server = await InProcessServer.StartAsync(new LlmEngine.Actors.Engine.EngineOptions { NumBlocks = 32 });

        Assert.Equal(0, await Run("serve", "--base-url", server.BaseAddress.ToString().TrimEnd('/'), "--num-prompts", "3", "--input-len", "8", "--output-len", "4",
            "--output-json", _dir.File("u.json")));

        Assert.Equal(3, Json("u.json").GetProperty("completed").GetInt32());
    }

    [Fact]
    public async Task SweepWritesThePlotTheTableAndTheSustainedRates()
    {
        string prefix = _dir.File("sweep");
        Assert.Equal(0, await Run("sweep", "--configs", "paged:--kv-layout paged;static:--kv-layout reserved --batching static", "--request-rates", "20,40",
            "--dataset", "random", "--num-prompts", "3", "--input-len", "8", "--output-len", "4", "--num-blocks", "32", "--output", prefix));

        Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, File.ReadAllBytes(prefix + ".png")[..4]);
        Assert.Equal(5, File.ReadAllLines(prefix + ".csv").Length);
        var json = JsonDocument.Parse(File.ReadAllText(prefix + ".json")).RootElement;
        Assert.All(json.GetProperty("points").EnumerateArray(), p => Assert.Equal(3, p.GetProperty("result").GetProperty("completed").GetInt32()));
        Assert.Equal(["paged", "static"], json.GetProperty("sustained_rate").EnumerateObject().Select(p => p.Name));
        Assert.Equal("static", json.GetProperty("baseline").GetString());
    }
}

[CollectionDefinition(Name, DisableParallelization = true)]
public class ForwardProfileCollection
{
    public const string Name = "forward profile (process-wide)";
}

/// <summary><c>bench batch --profile</c>. The profile is process-wide, so nothing else runs beside it.</summary>
[Collection(ForwardProfileCollection.Name)]
public sealed class BatchProfileTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task BatchProfileCountsEveryStepOnceAndTimesTheMatrixProducts()
    {
        Assert.Equal(0, await BenchCommandTests.Run("batch", "--batch-sizes", "2", "--input-len", "8", "--output-len", "4", "--profile", "--output-json", _dir.File("p.json")));

        var row = JsonDocument.Parse(File.ReadAllText(_dir.File("p.json"))).RootElement.GetProperty("rows")[0];
        var profile = row.GetProperty("profile");
        var decode = profile.GetProperty("decode");
        int promptSteps = profile.GetProperty("prompt").GetProperty("steps").GetInt32();
        int rounds = row.GetProperty("prompt_round_seconds").GetArrayLength();
        Assert.InRange(promptSteps, rounds, 2 * rounds);
        Assert.Equal(row.GetProperty("num_steps").GetInt32(), promptSteps + decode.GetProperty("steps").GetInt32());
        double parts = new[] { "matmul_ms", "attention_ms", "norms_ms", "rotary_ms", "dispatch_glue_ms", "sampling_ms", "control_plane_ms" }
            .Sum(name => decode.GetProperty(name).GetDouble());
        Assert.True(decode.GetProperty("matmul_ms").GetDouble() > 0);
        // One thread's CPU time inside the forward passes cannot pass their wall time.
        double forward = new[] { "matmul_ms", "attention_ms", "norms_ms", "rotary_ms", "dispatch_glue_ms" }.Sum(name => decode.GetProperty(name).GetDouble());
        Assert.InRange(decode.GetProperty("forward_thread_cpu_ms").GetDouble(), 1e-6, forward * 1.0001 + 0.001);
        Assert.True(decode.GetProperty("pool_workers_cpu_ms").GetDouble() >= 0);
        Assert.True(parts <= decode.GetProperty("step_ms").GetDouble() * 1.0001, $"parts {parts} ms exceed the step");
    }
}
