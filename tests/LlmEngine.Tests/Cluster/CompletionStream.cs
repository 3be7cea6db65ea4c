using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace LlmEngine.Tests.Cluster;

/// <summary>One streamed /v1/completions request, read as its events come: the text, the finish
/// reason, an error event, and whether [DONE] ended it.</summary>
public sealed class CompletionStream
{
    private int _tokens;
    private volatile bool _ended;

    public CompletionStream(HttpClient http, object body) => Completion = Read(http, body);

    public Task<Result> Completion { get; }
    public int Tokens => Volatile.Read(ref _tokens);
    public bool Ended => _ended;

    public sealed record Result(string Text, string? FinishReason, JsonElement? Error, bool Done);

    private async Task<Result> Read(HttpClient http, object body)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/completions") { Content = JsonContent.Create(body) };
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        response.EnsureSuccessStatusCode();
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        var text = new StringBuilder();
        string? finish = null;
        JsonElement? error = null;
        bool done = false;
        while (await reader.ReadLineAsync() is { } line)
        {
            if (!line.StartsWith("data: ")) continue;
            var data = line["data: ".Length..];
            if (data == "[DONE]")
            {
                done = true;
                continue;
            }
            var chunk = JsonDocument.Parse(data).RootElement;
            if (chunk.TryGetProperty("error", out var e))
            {
                error = e.Clone();
                continue;
            }
            var choice = chunk.GetProperty("choices")[0];
            text.Append(choice.GetProperty("text").GetString());
            if (choice.GetProperty("text").GetString() is { Length: > 0 }) Interlocked.Increment(ref _tokens);
            if (choice.TryGetProperty("finish_reason", out var f) && f.ValueKind == JsonValueKind.String) finish = f.GetString();
        }
        _ended = true;
        return new Result(text.ToString(), finish, error, done);
    }
}
