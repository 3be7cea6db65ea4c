using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;

namespace LlmEngine.Host.Bench;

/// <summary>
/// Sends one benchmark request to /v1/completions as a stream (prompt as token ids, greedy,
/// <c>ignore_eos</c>, usage in the last chunk) and times its chunks. The server skips chunks
/// whose text is empty, which for a model without tokenizer would be all but the last; asking
/// for <c>logprobs: 0</c> (the sampled token's own) makes every token arrive in a chunk and
/// tells how many tokens each chunk carries.
/// </summary>
internal sealed class ServeClient(HttpClient http, string? model, bool logprobs)
{
    public static HttpClient CreateHttp(Uri baseAddress) => new(new SocketsHttpHandler
    {
        MaxConnectionsPerServer = int.MaxValue,
        PooledConnectionIdleTimeout = TimeSpan.FromMinutes(5),
    })
    { BaseAddress = baseAddress, Timeout = Timeout.InfiniteTimeSpan };

    /// <summary>The served model's name and context length from /v1/models (null where absent).</summary>
    public static async Task<(string? Model, int? MaxModelLength)> ModelInfoAsync(HttpClient http, CancellationToken cancel)
    {
        using var doc = JsonDocument.Parse(await http.GetStringAsync("v1/models", cancel));
        if (!doc.RootElement.TryGetProperty("data", out var data) || data.GetArrayLength() == 0) return (null, null);
        var card = data[0];
        return (card.GetProperty("id").GetString(),
            card.TryGetProperty("max_model_len", out var m) && m.ValueKind == JsonValueKind.Number ? m.GetInt32() : null);
    }

    public async Task<RequestRecord> SendAsync(BenchRequest request, CancellationToken cancel)
    {
        var body = new Dictionary<string, object>
        {
            ["prompt"] = request.PromptTokenIds,
            ["max_tokens"] = request.OutputLength,
            ["temperature"] = 0.0,
            ["stream"] = true,
            ["ignore_eos"] = true,
            ["stream_options"] = new Dictionary<string, object> { ["include_usage"] = true },
        };
        if (model is not null) body["model"] = model;
        if (logprobs) body["logprobs"] = 0;
        var clock = Stopwatch.StartNew();
        try
        {
            using var message = new HttpRequestMessage(HttpMethod.Post, "v1/completions") { Content = JsonContent.Create(body) };
            using var response = await http.SendAsync(message, HttpCompletionOption.ResponseHeadersRead, cancel);
            if (!response.IsSuccessStatusCode)
                return RequestRecord.Failed(request.PromptLength, $"HTTP {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync(cancel)}", clock.Elapsed.TotalSeconds);
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cancel));
            return await ReadStream(reader, request.PromptLength, clock, cancel);
        }
        catch (HttpRequestException e)
        {
            return RequestRecord.Failed(request.PromptLength, e.Message, clock.Elapsed.TotalSeconds);
        }
    }

    /// <summary>Reads <c>data: {json}</c> events until <c>data: [DONE]</c>. TTFT is the first
    /// chunk that carries a token; each later one adds its gap to the ITL list.</summary>
    public static async Task<RequestRecord> ReadStream(TextReader reader, int promptLength, Stopwatch clock, CancellationToken cancel)
    {
        double ttft = 0, last = 0;
        var itl = new List<double>();
        int counted = 0;
        int? usage = null;
        bool done = false;
        while (await reader.ReadLineAsync(cancel) is { } line)
        {
            if (!line.StartsWith("data:", StringComparison.Ordinal)) continue;
            var payload = line[5..].Trim();
            if (payload == "[DONE]") { done = true; break; }
            double now = clock.Elapsed.TotalSeconds;
            using var doc = JsonDocument.Parse(payload);
            var root = doc.RootElement;
            if (root.TryGetProperty("error", out var error))
                return RequestRecord.Failed(promptLength, error.TryGetProperty("message", out var m) ? m.GetString() ?? "error" : error.ToString(), now);
            if (root.TryGetProperty("usage", out var u) && u.ValueKind == JsonValueKind.Object && u.TryGetProperty("completion_tokens", out var ct))
                usage = ct.GetInt32();
            int tokens = 0;
            if (root.TryGetProperty("choices", out var choices))
                foreach (var choice in choices.EnumerateArray()) tokens += TokensIn(choice);
            if (tokens == 0) continue;
            if (counted == 0) ttft = now;
            else itl.Add(now - last);
            last = now;
            counted += tokens;
        }
        double latency = clock.Elapsed.TotalSeconds;
        if (!done) return RequestRecord.Failed(promptLength, "the stream ended without [DONE]", latency);
        int output = usage ?? counted;
        return output > 0 ? new RequestRecord(true, promptLength, output, ttft, itl, latency)
            : RequestRecord.Failed(promptLength, "no tokens received", latency);
    }

    // With logprobs, the chunk lists its tokens; without, a chunk with text stands for one.
    private static int TokensIn(JsonElement choice)
    {
        if (choice.TryGetProperty("logprobs", out var lp) && lp.ValueKind == JsonValueKind.Object && lp.TryGetProperty("tokens", out var t))
            return t.GetArrayLength();
        return choice.TryGetProperty("text", out var text) && text.GetString() is { Length: > 0 } ? 1 : 0;
    }
}
