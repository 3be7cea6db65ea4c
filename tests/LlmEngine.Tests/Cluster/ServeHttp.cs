using System.Net.Http.Json;
using System.Text.Json;

namespace LlmEngine.Tests.Cluster;

/// <summary>What the process-level cluster tests ask a <c>serve</c> node over HTTP: greedy
/// completions of stories260K that ignore EOS (so every run has exactly <c>max_tokens</c>), the
/// node's /cluster view, and an engine's load gauges.</summary>
public static class ServeHttp
{
    public const int MaxTokens = 400;

    public static HttpClient Client(ServeProcess node) => new() { BaseAddress = node.Address, Timeout = TimeSpan.FromMinutes(3) };

    public static object Body(string prompt, bool stream) =>
        new { model = "stories260K", prompt, max_tokens = MaxTokens, temperature = 0, ignore_eos = true, stream };

    public static async Task<string> Text(HttpClient http, string prompt)
    {
        var response = await http.PostAsJsonAsync("/v1/completions", Body(prompt, stream: false));
        var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.True(response.IsSuccessStatusCode, body.ToString());
        return body.GetProperty("choices")[0].GetProperty("text").GetString()!;
    }

    public static async Task<JsonElement> ClusterOf(HttpClient http) =>
        JsonDocument.Parse(await http.GetStringAsync("/cluster")).RootElement;

    public static async Task<List<JsonElement>> Replicas(HttpClient http) => [.. (await ClusterOf(http)).GetProperty("replicas").EnumerateArray()];

    /// <summary>The cluster address of the replica whose OpenAI API is <paramref name="node"/>'s, as <paramref name="http"/>'s node sees it.</summary>
    public static async Task<string> NodeOf(HttpClient http, ServeProcess node) =>
        (await Replicas(http)).Single(r => r.GetProperty("http_url").GetString() == node.Address.ToString().TrimEnd('/')).GetProperty("node").GetString()!;

    /// <summary>Running, waiting and KV-cache usage from an engine's /metrics.</summary>
    public static async Task<(double, double, double)> Gauges(HttpClient http)
    {
        var lines = (await http.GetStringAsync("/metrics")).Split('\n');
        double Gauge(string name) => double.Parse(lines.Single(l => l.StartsWith(name + "{")).Split(' ')[^1], System.Globalization.CultureInfo.InvariantCulture);
        return (Gauge("vllm:num_requests_running"), Gauge("vllm:num_requests_waiting"), Gauge("vllm:kv_cache_usage_perc"));
    }

    /// <summary>Waits until the replica <paramref name="node"/> runs two streams and queues more,
    /// as <paramref name="http"/>'s node sees it, and three of <paramref name="streams"/> are streaming
    /// tokens: with two engines of two seats each, at least one of them runs on this replica (a stream
    /// without tokens yet would only be routed again when the replica is lost).</summary>
    public static async Task Busy(HttpClient http, string node, IReadOnlyList<CompletionStream> streams)
    {
        string seen = "no report from the replica";
        try
        {
            await ClusterNode.Eventually(async () =>
            {
                var v = (await Replicas(http)).FirstOrDefault(r => r.GetProperty("node").GetString() == node);
                if (v.ValueKind != JsonValueKind.Object) return false;
                int running = v.GetProperty("running").GetInt32(), waiting = v.GetProperty("waiting").GetInt32();
                int streaming = streams.Count(s => s.Tokens > 0 && !s.Ended);
                seen = $"the replica ran {running} and queued {waiting}; {streaming} streams had tokens and had not ended, {streams.Count(s => s.Ended)} had ended";
                return running == 2 && waiting >= 1 && streaming >= 3;
            }, "the replica runs two streams and queues more, and one of them has tokens", 120);
        }
        catch (TimeoutException e)
        {
            throw new TimeoutException($"{e.Message} (last seen: {seen})");
        }
    }

    /// <summary>
    /// After a replica with two seats was lost mid-run: every stream ended with [DONE], either with
    /// the lone engine's text or, only where it had tokens, with the error event of a replica lost
    /// after streaming; at most two failed (the lost replica's seats); and its queued requests were
    /// routed again (more routing decisions than streams).
    /// </summary>
    public static async Task AssertNoneLost(HttpClient http, IReadOnlyList<CompletionStream> streams, IReadOnlyList<string> references)
    {
        int failed = 0;
        for (int i = 0; i < streams.Count; i++)
        {
            var run = await streams[i].Completion.WaitAsync(TimeSpan.FromSeconds(120));
            Assert.True(run.Done, $"stream {i} ended without [DONE]");
            if (run.Error is { } error)
            {
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
        // At most the lost replica's two seats. None when its streaming request ended in the moment
        // between Busy's check and the loss (CI on 8a57a37, load 14): the check cannot hold a stream
        // back from its end, and which replica runs a stream is not visible to the client.
        Assert.InRange(failed, 0, 2);
        long decisions = (await ClusterOf(http)).GetProperty("requests_by_target").EnumerateObject().Sum(t => t.Value.GetInt64());
        Assert.True(decisions > streams.Count, $"{decisions} decisions for {streams.Count} streams: none routed again");
    }
}
