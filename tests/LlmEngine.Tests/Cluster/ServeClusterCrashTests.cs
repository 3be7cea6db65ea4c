using System.Net.Http.Json;
using System.Text.Json;

namespace LlmEngine.Tests.Cluster;

/// <summary>
/// A real crash: three <c>serve</c> processes on loopback, a router that holds no model
/// (<c>--no-engine</c>) and two engines with two seats each (and an unbounded queue: the
/// survivor takes the dead one's requests too). Twelve streams go through the router
/// (round-robin); while one engine runs two and queues more, its process gets SIGKILL, so nothing
/// drains and no one is told: the others learn it only from Akka.Cluster's failure detector.
/// Every stream still ends: with the tokens a lone engine gives, or, where the dead engine had
/// streamed tokens, with a clear error event; the requests it had queued complete on the survivor;
/// the survivor frees every block; the split-brain resolver downs the dead node; and an engine that
/// joins afterwards gets traffic.
/// </summary>
[Trait("Category", "Slow")]
public sealed class ServeClusterCrashTests
{
    private const int MaxTokens = 400;
    private const int Streams = 12;

    [Fact]
    public async Task AnEngineProcessKilledMidRunLosesNoRequestAndTheClusterRecovers()
    {
        int seedPort = ClusterNode.FreePort();
        using var router = await ServeProcess.Start("--cluster-port", seedPort.ToString(), "--no-engine", "--routing", "round-robin");
        string[] Engine() => ["--cluster-port", ClusterNode.FreePort().ToString(), "--join", $"127.0.0.1:{seedPort}", "--max-num-seqs", "2", "--max-waiting-requests", "-1"];
        using var survivor = await ServeProcess.Start(Engine());
        using var victim = await ServeProcess.Start(Engine());
        using var joiner = new Joiner();

        using var http = new HttpClient { BaseAddress = router.Address, Timeout = TimeSpan.FromMinutes(3) };
        using var direct = new HttpClient { BaseAddress = survivor.Address, Timeout = TimeSpan.FromMinutes(3) };
        await ClusterNode.Eventually(() => Replicas(http).Result.Count == 2, "the router routes to both engines");
        var victimNode = (await Replicas(http)).Single(r => r.GetProperty("http_url").GetString() == victim.Address.ToString().TrimEnd('/'))
            .GetProperty("node").GetString()!;

        var prompts = Enumerable.Range(0, Streams).Select(i => $"Story {i}: once upon a time").ToArray();
        var references = await Task.WhenAll(prompts.Select(p => Text(direct, p)));
        var streams = prompts.Select(p => new CompletionStream(http, Body(p, stream: true))).ToArray();

        await ClusterNode.Eventually(() =>
        {
            var v = Replicas(http).Result.FirstOrDefault(r => r.GetProperty("node").GetString() == victimNode);
            return v.ValueKind == JsonValueKind.Object && v.GetProperty("running").GetInt32() == 2 && v.GetProperty("waiting").GetInt32() >= 1
                && streams.Count(s => s.Tokens > 0 && !s.Ended) >= 2;
        }, "the victim runs two streams and queues more", 120);
        await victim.Kill();

        int failed = 0;
        for (int i = 0; i < Streams; i++)
        {
            var run = await streams[i].Completion.WaitAsync(TimeSpan.FromSeconds(120));
            Assert.True(run.Done, $"stream {i} ended without [DONE]");
            if (run.Error is { } error)
            {
                // Only a stream that had tokens may fail; its error says why, in the OpenAI shape.
                Assert.True(streams[i].Tokens > 0, $"stream {i} failed before any token: {error}");
                Assert.Equal("request_failed", error.GetProperty("code").GetString());
                Assert.Contains("left the cluster after it had streamed tokens", error.GetProperty("message").GetString());
                failed++;
            }
            else
            {
                Assert.Equal("length", run.FinishReason);
                Assert.Equal(references[i], run.Text);
            }
        }
        // Two seats on the victim: at most its two streams fail; what it had queued ran on the
        // survivor (routed again: more decisions than requests).
        Assert.InRange(failed, 1, 2);
        var cluster = await Cluster(http);
        long decisions = cluster.GetProperty("requests_by_target").EnumerateObject().Sum(t => t.Value.GetInt64());
        Assert.True(decisions > Streams, $"{decisions} decisions for {Streams} streams: none routed again");

        // The survivor ends with every block free and nothing running; the dead node is downed and removed.
        await ClusterNode.Eventually(() => Gauges(direct).Result is (0, 0, 0), "the survivor is idle with every block free", 30);
        await ClusterNode.Eventually(() => Members(http).Result.SetEquals(["router", "engine"]), "the killed node is downed and removed", 60);
        Assert.DoesNotContain((await Replicas(http)).Select(r => r.GetProperty("node").GetString()), n => n == victimNode);

        // A new engine joins and gets traffic, with the same tokens.
        var fresh = joiner.Start(await ServeProcess.Start(Engine()));
        await ClusterNode.Eventually(() => Replicas(http).Result.Count == 2, "the router routes to the new engine");
        for (int i = 0; i < 4; i++) Assert.Equal(references[i], await Text(http, prompts[i]));
        var targets = (await Cluster(http)).GetProperty("requests_by_target").EnumerateObject().Select(t => t.Name);
        var freshNode = (await Replicas(http)).Single(r => r.GetProperty("http_url").GetString() == fresh.Address.ToString().TrimEnd('/'))
            .GetProperty("node").GetString();
        Assert.Contains(freshNode, targets);

        Assert.Equal(0, await fresh.Stop());
        Assert.Equal(0, await survivor.Stop());
        Assert.Equal(0, await router.Stop());
    }

    private static object Body(string prompt, bool stream) =>
        new { model = "stories260K", prompt, max_tokens = MaxTokens, temperature = 0, ignore_eos = true, stream };

    private static async Task<string> Text(HttpClient http, string prompt)
    {
        var response = await http.PostAsJsonAsync("/v1/completions", Body(prompt, stream: false));
        var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.True(response.IsSuccessStatusCode, body.ToString());
        return body.GetProperty("choices")[0].GetProperty("text").GetString()!;
    }

    private static async Task<JsonElement> Cluster(HttpClient http) =>
        JsonDocument.Parse(await http.GetStringAsync("/cluster")).RootElement;

    private static async Task<List<JsonElement>> Replicas(HttpClient http) => [.. (await Cluster(http)).GetProperty("replicas").EnumerateArray()];

    /// <summary>The members' roles (one member per role here).</summary>
    private static async Task<HashSet<string>> Members(HttpClient http)
    {
        var members = (await Cluster(http)).GetProperty("members").EnumerateArray().ToList();
        return members.Count == 2 ? [.. members.Select(m => m.GetProperty("roles")[0].GetString()!)] : [];
    }

    /// <summary>Running, waiting and KV-cache usage from an engine's /metrics.</summary>
    private static async Task<(double, double, double)> Gauges(HttpClient http)
    {
        var lines = (await http.GetStringAsync("/metrics")).Split('\n');
        double Gauge(string name) => double.Parse(lines.Single(l => l.StartsWith(name + "{")).Split(' ')[^1], System.Globalization.CultureInfo.InvariantCulture);
        return (Gauge("vllm:num_requests_running"), Gauge("vllm:num_requests_waiting"), Gauge("vllm:kv_cache_usage_perc"));
    }

    /// <summary>Stops the engine that joins late if the test fails before it does.</summary>
    private sealed class Joiner : IDisposable
    {
        private ServeProcess? _process;

        public ServeProcess Start(ServeProcess process) => _process = process;

        public void Dispose() => _process?.Dispose();
    }
}
