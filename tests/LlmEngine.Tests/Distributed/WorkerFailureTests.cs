using System.Diagnostics;
using System.Net;
using System.Text.Json;
using LlmEngine.Actors.Engine;
using LlmEngine.Host.Api;
using LlmEngine.Kernels.Sampling;
using LlmEngine.Tests.Cluster;
using LlmEngine.Tests.Loading;
using LlmEngine.Tests.Models;
using static LlmEngine.Tests.Sharding.TensorParallelEngineTests;
using Microsoft.Extensions.Logging;

namespace LlmEngine.Tests.Distributed;

/// <summary>
/// The head serves HTTP over stories260K in two pipeline stages, stage 1 in an
/// <c>llm-engine worker --join</c> process; or over two tensor-parallel ranks on two nodes
/// (--tensor-parallel-across-nodes), rank 1 in that process, whose all-reduces the kill cuts mid-step. Killed mid-stream (SIGKILL to its process group), the
/// stream ends with an error within the failure detector's bound, /health answers 503 naming the
/// missing stage, a new request waits for it up to --stage-wait-timeout (1 s here) and then gets 503
/// naming it, no block leaks; a new worker process joins, loads the stage, and the
/// head serves run.c's tokens again.
/// </summary>
[Trait("Category", "Slow")]
public class WorkerFailureTests
{
    /// <summary>Failure detector (about 4 s) plus a loaded machine's margin.</summary>
    private static readonly TimeSpan FailureBound = TimeSpan.FromSeconds(10);

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task AKilledWorkerFailsTheStreamClearlyAnswers503AndANewWorkerRestoresService(bool tensorParallelAcrossNodes)
    {
        var options = (tensorParallelAcrossNodes ? WorkerNodes.Head(SharedModels.Stories260K, 1, ranks: 2, acrossNodes: true)
            : WorkerNodes.Head(SharedModels.Stories260K, 2)) with { StageWaitSeconds = 1 };
        string part = tensorParallelAcrossNodes ? "tensor-parallel rank 1 of 2 (layers 0-4)" : "pipeline stage 1 of 2 (layers 3-4)";
        var (head, first) = await WorkerNodes.Start(options, WorkerProcess.Start);
        using var firstWorker = first[0];
        await using var engine = head;
        await using var app = OpenAiServer.Build(engine, new ServerOptions { Host = "127.0.0.1", Port = 0 }, b => b.Logging.ClearProviders());
        await app.StartAsync();
        using var http = new HttpClient { BaseAddress = OpenAiServer.BoundAddress(app) };
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/health")).StatusCode);
        Assert.Contains("joining", firstWorker.Output);

        var row = Stories260KReferenceTests.Rows[0];
        Assert.Equal(row.Generated, await Tokens(engine, "before", row.PromptIds, new SamplingParameters { Temperature = 0, MaxTokens = row.Generated.Length }));

        // A long stream; the worker dies once tokens are flowing.
        var tokens = 0;
        var killedAt = TimeSpan.Zero;
        var clock = Stopwatch.StartNew();
        var stream = Task.Run(async () =>
        {
            var request = new GenerationRequest("long", row.PromptIds, new SamplingParameters { Temperature = 0, MaxTokens = 240, IgnoreEos = true });
            await foreach (var output in engine.GenerateAsync(request))
                if (Interlocked.Add(ref tokens, output.Deltas.Sum(d => d.TokenIds.Count)) >= 5 && killedAt == TimeSpan.Zero)
                {
                    killedAt = clock.Elapsed;
                    firstWorker.Signal("KILL");
                }
        });
        var error = await Assert.ThrowsAsync<RequestFailedException>(() => stream);
        Assert.True(clock.Elapsed - killedAt < FailureBound, $"the stream failed {(clock.Elapsed - killedAt).TotalSeconds:0.0} s after the kill");
        Assert.InRange(tokens, 5, 239);
        Assert.Contains("failed", error.Message);

        var health = await http.GetAsync("/health");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, health.StatusCode);
        Assert.Contains($"{part} was lost", await health.Content.ReadAsStringAsync());
        var waited = Stopwatch.StartNew();
        var refused = await http.PostAsync("/v1/completions", new StringContent(
            JsonSerializer.Serialize(new { model = engine.ModelName, prompt = "Once upon a time", max_tokens = 4 }), System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
        Assert.True(waited.Elapsed > TimeSpan.FromSeconds(0.9), $"the request waited {waited.Elapsed.TotalSeconds:0.00} s for the stage");
        var body = JsonDocument.Parse(await refused.Content.ReadAsStringAsync()).RootElement.GetProperty("error");
        Assert.Equal("stage_unavailable", body.GetProperty("code").GetString());
        Assert.Contains(part, body.GetProperty("message").GetString());
        await ClusterNode.AllBlocksFree(engine);

        using var second = WorkerProcess.Start(options.ClusterPort);
        await ClusterNode.Eventually(() => engine.IsServing, "a new worker node takes stage 1", seconds: 120);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/health")).StatusCode);
        foreach (var (reference, i) in Stories260KReferenceTests.Rows.Take(3).Select((r, i) => (r, i)))
            Assert.Equal(reference.Generated, await Tokens(engine, $"after{i}", reference.PromptIds, new SamplingParameters { Temperature = 0, MaxTokens = reference.Generated.Length }));
        await ClusterNode.AllBlocksFree(engine);

        await app.StopAsync();
        second.Signal("TERM");
        Assert.True(second.WaitForExit(TimeSpan.FromSeconds(30)), "the worker stops on SIGTERM");
    }
}
