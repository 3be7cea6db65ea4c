using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace LlmEngine.Host.Bench;

/// <summary>What a fuzz run saw: the count of each status, the requests answered with a 5xx (or a
/// stream that ended with a server error event), those that got no answer in time, and whether a
/// fixed greedy request answered the same before and after.</summary>
internal sealed record FuzzOutcome(
    int Requests, IReadOnlyDictionary<int, int> Statuses, IReadOnlyList<string> ServerErrors, IReadOnlyList<string> Hangs,
    string GreedyBefore, string GreedyAfter, double Seconds)
{
    public int ServerErrorCount => ServerErrors.Count;
    public bool GreedyUnchanged => GreedyBefore == GreedyAfter;
    public bool Passed => ServerErrors.Count == 0 && Hangs.Count == 0 && GreedyUnchanged;

    public Dictionary<string, object?> ToJson() => new()
    {
        ["requests"] = Requests,
        ["seconds"] = Math.Round(Seconds, 2),
        ["statuses"] = Statuses.OrderBy(s => s.Key).ToDictionary(s => s.Key.ToString(), s => s.Value),
        ["server_errors"] = ServerErrors.Count,
        ["server_error_requests"] = ServerErrors.Take(20).ToList(),
        ["hangs"] = Hangs.Count,
        ["hang_requests"] = Hangs.Take(20).ToList(),
        ["greedy_unchanged"] = GreedyUnchanged,
    };
}

/// <summary>Sends <see cref="RequestFuzzer"/>'s requests to a server, a few at a time, and checks
/// every answer: no 5xx (nor a stream's server error event), none later than <c>timeout</c>, and the
/// same greedy completion before and after.</summary>
internal static class FuzzRun
{
    private static readonly byte[] Greedy = Encoding.UTF8.GetBytes("""{"prompt":"Once upon a time","max_tokens":24,"temperature":0}""");

    public static async Task<FuzzOutcome> RunAsync(Uri baseAddress, int requests, int seed, int concurrency, TimeSpan timeout,
        Action? progress = null, CancellationToken ct = default)
    {
        using var http = new HttpClient { BaseAddress = baseAddress, Timeout = Timeout.InfiniteTimeSpan };
        var clock = Stopwatch.StartNew();
        var before = await GreedyText(http, ct);
        var fuzzer = new RequestFuzzer(seed);
        var all = Enumerable.Range(0, requests).Select(_ => fuzzer.Next()).ToList();
        var statuses = new ConcurrentDictionary<int, int>();
        var serverErrors = new ConcurrentBag<string>();
        var hangs = new ConcurrentBag<string>();
        await Parallel.ForEachAsync(all, new ParallelOptions { MaxDegreeOfParallelism = concurrency, CancellationToken = ct }, async (request, token) =>
        {
            using var limit = CancellationTokenSource.CreateLinkedTokenSource(token);
            limit.CancelAfter(timeout);
            try
            {
                var (status, body) = await Send(http, request, limit.Token);
                statuses.AddOrUpdate(status, 1, (_, n) => n + 1);
                if (status >= 500 || ServerErrorEvent(body))
                    serverErrors.Add($"{status} {request.Describe()} -> {Cut(body)}");
            }
            catch (OperationCanceledException) when (!token.IsCancellationRequested)
            {
                hangs.Add(request.Describe());
            }
            catch (HttpRequestException e)
            {
                // The server closed the connection without an answer: as bad as a 5xx.
                statuses.AddOrUpdate(0, 1, (_, n) => n + 1);
                serverErrors.Add($"no answer ({e.Message}) {request.Describe()}");
            }
            progress?.Invoke();
        });
        var after = await GreedyText(http, ct);
        return new FuzzOutcome(requests, statuses, [.. serverErrors], [.. hangs], before, after, clock.Elapsed.TotalSeconds);
    }

    private static async Task<(int Status, string Body)> Send(HttpClient http, FuzzRequest request, CancellationToken ct)
    {
        using var message = new HttpRequestMessage(request.Method, request.Path.TrimStart('/'));
        if (request.Body is { } body)
        {
            message.Content = new ByteArrayContent(body);
            message.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        }
        using var response = await http.SendAsync(message, HttpCompletionOption.ResponseHeadersRead, ct);
        return ((int)response.StatusCode, await response.Content.ReadAsStringAsync(ct));
    }

    private static async Task<string> GreedyText(HttpClient http, CancellationToken ct)
    {
        using var response = await http.PostAsync("v1/completions", new ByteArrayContent(Greedy) { Headers = { ContentType = new("application/json") } }, ct);
        var body = await response.Content.ReadAsStringAsync(ct);
        if (!response.IsSuccessStatusCode) return $"{(int)response.StatusCode}: {Cut(body)}";
        return JsonDocument.Parse(body).RootElement.GetProperty("choices")[0].GetProperty("text").GetString() ?? "";
    }

    // A stream whose status was already sent reports a failure as an error event; a server error there is a 5xx too.
    private static bool ServerErrorEvent(string body) =>
        body.StartsWith("data: ", StringComparison.Ordinal) && body.Contains("\"type\":\"server_error\"", StringComparison.Ordinal);

    private static string Cut(string text) => text.Length <= 300 ? text : text[..300] + "...";
}
