using System.Net;

namespace LlmEngine.Tests.Server;

/// <summary>The constraint fields of a request: a bad or conflicting one is a 400 that names the
/// field and says why, before anything runs; a good one is accepted on both endpoints.</summary>
public sealed class StructuredOutputsRequestTests : IAsyncLifetime
{
    private ServerHost _server = null!;

    public async Task InitializeAsync() => _server = await ServerHost.Start();
    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Theory]
    [InlineData("""{"type":"bogus"}""", "response_format", "not supported")]
    [InlineData("""{"type":"json_schema"}""", "response_format", "json_schema is required")]
    [InlineData("""{"type":"json_schema","json_schema":{"schema":{}}}""", "response_format", "name is required")]
    [InlineData("""{"type":"json_schema","json_schema":{"name":"x","schema":{"type":"integr"}}}""", "response_format", "unknown type 'integr'")]
    [InlineData("\"json_object\"", "response_format", "must be an object")]
    public async Task BadResponseFormatIs400(string format, string param, string reason)
    {
        var response = await _server.PostRaw("/v1/chat/completions", $$"""{"messages":[{"role":"user","content":"hi"}],"response_format":{{format}}}""");
        await AssertBadRequest(response, param, reason);
    }

    [Theory]
    [InlineData("""{"structured_outputs":{"regex":"(ab"}}""", "structured_outputs.regex", "expected ')'")]
    [InlineData("""{"guided_regex":"(ab"}""", "guided_regex", "expected ')'")]
    [InlineData("""{"guided_grammar":"root ::= missing"}""", "guided_grammar", "undefined rule 'missing'")]
    [InlineData("""{"guided_choice":[]}""", "guided_choice", "non-empty")]
    [InlineData("""{"guided_json":5}""", "guided_json", "JSON schema")]
    [InlineData("""{"guided_regex":"a","guided_choice":["a"]}""", "guided_choice", "Only one kind")]
    [InlineData("""{"structured_outputs":{"regex":"a","choice":["a"]}}""", "structured_outputs.choice", "Only one kind")]
    [InlineData("""{"response_format":{"type":"json_object"},"guided_regex":"a"}""", "guided_regex", "Only one kind")]
    public async Task BadOrConflictingConstraintIs400(string fields, string param, string reason)
    {
        var response = await _server.PostRaw("/v1/completions", """{"prompt":"hi",""" + fields[1..]);
        await AssertBadRequest(response, param, reason);
    }

    [Theory]
    [InlineData("""{"response_format":{"type":"text"}}""")]
    [InlineData("""{"response_format":{"type":"json_schema","json_schema":{"name":"x","strict":true,"schema":{"type":"object","properties":{"a":{"type":"integer"}},"required":["a"],"additionalProperties":false}}}}""")]
    [InlineData("""{"structured_outputs":{"choice":["yes","no"]}}""")]
    [InlineData("""{"guided_json":"{\"type\":\"string\"}"}""")]
    public async Task GoodConstraintIsAccepted(string fields)
    {
        var response = await _server.PostRaw("/v1/completions", """{"prompt":"hi","max_tokens":2,""" + fields[1..]);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    private static async Task AssertBadRequest(HttpResponseMessage response, string param, string reason)
    {
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var error = (await ServerHost.Json(response)).GetProperty("error");
        Assert.Equal(param, error.GetProperty("param").GetString());
        Assert.Contains(reason, error.GetProperty("message").GetString());
    }
}
