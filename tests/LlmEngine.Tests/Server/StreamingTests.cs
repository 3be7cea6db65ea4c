using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace LlmEngine.Tests.Server;

public sealed class StreamingTests : IAsyncLifetime
{
    private ServerHost _server = null!;

    public async Task InitializeAsync() => _server = await ServerHost.Start();
    public async Task DisposeAsync() => await _server.DisposeAsync();

    private async Task<(HttpResponseMessage Response, string Body)> Stream(string path, object body)
    {
        var response = await _server.Post(path, body);
        return (response, await response.Content.ReadAsStringAsync());
    }

    /// <summary>The payloads of "data: X\n\n" events; fails on anything else in the stream.</summary>
    private static List<string> Events(string body)
    {
        Assert.EndsWith("\n\n", body);
        var events = body[..^2].Split("\n\n");
        Assert.All(events, e => Assert.StartsWith("data: ", e));
        return [.. events.Select(e => e["data: ".Length..])];
    }

    [Fact]
    public async Task CompletionStreamIsDataEventsEndingWithDone()
    {
        var (response, body) = await Stream("/v1/completions", new { prompt = "abc", max_tokens = 3, stream = true });

        Assert.Equal("text/event-stream", response.Content.Headers.ContentType!.MediaType);
        var events = Events(body);
        Assert.Equal("[DONE]", events[^1]);
        var chunks = events[..^1].Select(e => JsonDocument.Parse(e).RootElement).ToList();
        Assert.Equal(["a", "b", "c"], chunks.Select(c => c.GetProperty("choices")[0].GetProperty("text").GetString()));
        Assert.All(chunks, c => Assert.Equal("text_completion", c.GetProperty("object").GetString()));
        Assert.Equal([null, null, "length"], chunks.Select(c => c.GetProperty("choices")[0].GetProperty("finish_reason").GetString()));
    }

    [Fact]
    public async Task CompletionStreamFramingIsExact()
    {
        var (_, body) = await Stream("/v1/completions", new { prompt = "ab", max_tokens = 1, stream = true });

        var id = JsonDocument.Parse(Events(body)[0]).RootElement.GetProperty("id").GetString();
        var created = JsonDocument.Parse(Events(body)[0]).RootElement.GetProperty("created").GetInt64();
        Assert.Equal(
            $$"""data: {"id":"{{id}}","object":"text_completion","created":{{created}},"model":"fake-model","choices":[{"index":0,"text":"a","logprobs":null,"finish_reason":"length"}]}""" + "\n\n"
            + "data: [DONE]\n\n", body);
    }

    [Fact]
    public async Task IncludeUsageSendsAFinalChunkWithEmptyChoicesBeforeDone()
    {
        var (_, body) = await Stream("/v1/completions", new { prompt = "abc", max_tokens = 2, stream = true, stream_options = new { include_usage = true } });

        var events = Events(body);
        var usageChunk = JsonDocument.Parse(events[^2]).RootElement;
        Assert.Equal(0, usageChunk.GetProperty("choices").GetArrayLength());
        Assert.Equal((4, 2, 6), (usageChunk.GetProperty("usage").GetProperty("prompt_tokens").GetInt32(),
            usageChunk.GetProperty("usage").GetProperty("completion_tokens").GetInt32(), usageChunk.GetProperty("usage").GetProperty("total_tokens").GetInt32()));
    }

    [Fact]
    public async Task StreamedChoicesOfSeveralPromptsCarryTheirIndexAndEachEndsWithAFinishReason()
    {
        var (_, body) = await Stream("/v1/completions", new { prompt = new[] { "ab", "xy" }, n = 2, max_tokens = 2, stream = true });

        var choices = Events(body)[..^1].Select(e => JsonDocument.Parse(e).RootElement.GetProperty("choices")[0]).ToList();
        var texts = choices.GroupBy(c => c.GetProperty("index").GetInt32()).OrderBy(g => g.Key)
            .Select(g => string.Concat(g.Select(c => c.GetProperty("text").GetString()))).ToList();
        Assert.Equal(["ab", "ba", "xy", "yx"], texts);
        Assert.Equal(4, choices.Count(c => c.GetProperty("finish_reason").GetString() == "length"));
    }

    [Fact]
    public async Task StreamedStopStringIsNeverSent()
    {
        var (_, body) = await Stream("/v1/completions", new { prompt = "hello", max_tokens = 10, stop = "llo", stream = true });

        var text = string.Concat(Events(body)[..^1].Select(e => JsonDocument.Parse(e).RootElement.GetProperty("choices")[0].GetProperty("text").GetString()));
        Assert.Equal("he", text);
    }

    [Fact]
    public async Task TextAndFinishReasonSettledOnlyInTheFinalOutputsAreStillStreamed()
    {
        _server.Engine.SettleAtEnd = true;

        var (_, body) = await Stream("/v1/completions", new { prompt = "abc", n = 2, max_tokens = 4, stream = true, stream_options = new { include_usage = true } });

        var chunks = Events(body)[..^1].Select(e => JsonDocument.Parse(e).RootElement).ToList();
        var choices = chunks.SelectMany(c => c.GetProperty("choices").EnumerateArray()).ToList();
        Assert.Equal([("abca", "length"), ("bcab", "length")], choices.OrderBy(c => c.GetProperty("index").GetInt32())
            .Select(c => (c.GetProperty("text").GetString(), c.GetProperty("finish_reason").GetString())));
        Assert.Equal(8, chunks[^1].GetProperty("usage").GetProperty("completion_tokens").GetInt32());
    }

    [Fact]
    public async Task ChatStreamStartsWithTheRoleAndEndsWithFinishReason()
    {
        var (_, body) = await Stream("/v1/chat/completions", new { messages = new[] { new { role = "user", content = "hi" } }, max_tokens = 3, stream = true });

        var chunks = Events(body)[..^1].Select(e => JsonDocument.Parse(e).RootElement).ToList();
        Assert.All(chunks, c => Assert.Equal("chat.completion.chunk", c.GetProperty("object").GetString()));
        Assert.Equal("assistant", chunks[0].GetProperty("choices")[0].GetProperty("delta").GetProperty("role").GetString());
        Assert.Equal("length", chunks[^1].GetProperty("choices")[0].GetProperty("finish_reason").GetString());
        Assert.All(chunks.Skip(1), c => Assert.False(c.GetProperty("choices")[0].GetProperty("delta").TryGetProperty("role", out _)));
    }

    [Fact]
    public async Task ClientThatDisconnectsMidStreamCancelsItsRequest()
    {
        _server.Engine.StepDelay = TimeSpan.FromMilliseconds(50);
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/completions")
        {
            Content = JsonContent.Create(new { prompt = "abc", max_tokens = 100, stream = true }),
        };
        using (var response = await _server.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
            Assert.StartsWith("data: {", await reader.ReadLineAsync());
        } // disposing the response aborts the connection

        var cancelled = await _server.Engine.Cancelled.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(_server.Engine.LastRequest.RequestId, cancelled);
    }

    [Fact]
    public async Task FailureBeforeTheFirstOutputIsAPlain500()
    {
        _server.Engine.FailWith = new InvalidOperationException("boom");

        var (response, body) = await Stream("/v1/completions", new { prompt = "abc", max_tokens = 3, stream = true });

        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        Assert.Contains("boom", JsonDocument.Parse(body).RootElement.GetProperty("error").GetProperty("message").GetString());
    }

    [Fact]
    public async Task FailureMidStreamIsSentAsAnErrorEventBeforeDone()
    {
        _server.Engine.FailWith = new InvalidOperationException("boom");
        _server.Engine.FailAtStep = 2;

        var (response, body) = await Stream("/v1/completions", new { prompt = "abc", max_tokens = 5, stream = true });

        var events = Events(body);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("[DONE]", events[^1]);
        Assert.Contains("boom", JsonDocument.Parse(events[^2]).RootElement.GetProperty("error").GetProperty("message").GetString());
    }

    [Fact]
    public async Task StreamedLogprobsContinueTheTextOffsetsAcrossChunks()
    {
        var (_, body) = await Stream("/v1/completions", new { prompt = "abc", max_tokens = 3, logprobs = 1, echo = true, stream = true });

        var lps = Events(body)[..^1].Select(e => JsonDocument.Parse(e).RootElement.GetProperty("choices")[0].GetProperty("logprobs")).ToList();
        var offsets = lps.SelectMany(l => l.GetProperty("text_offset").EnumerateArray().Select(o => o.GetInt32())).ToList();
        // Offsets index the text sent: the echoed "abc" (BOS takes no text), then "a", "b", "c".
        Assert.Equal([0, 0, 1, 2, 3, 4, 5], offsets);
    }
}
