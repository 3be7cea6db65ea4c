// The Responses client is marked for evaluation in OpenAI 2.15.
#pragma warning disable OPENAI001
using System.ClientModel;
using OpenAI;
using OpenAI.Responses;

namespace LlmEngine.Tests.Server.Responses;

/// <summary>The official OpenAI .NET client's <see cref="ResponsesClient"/> against /v1/responses
/// over the fake engine (output: the input's text up to its first '.'): it reads the response,
/// the event stream and function calls, and sends calls and their results back.</summary>
public sealed class ResponsesClientTests
{
    private static ResponsesClient Client(ServerHost server) =>
        new OpenAIClient(new ApiKeyCredential("unused"), new OpenAIClientOptions { Endpoint = new Uri(server.BaseAddress, "/v1") }).GetResponsesClient();

    private static CreateResponseOptions Options(string text, bool stream = false) =>
        new("fake-model", [ResponseItem.CreateUserMessageItem(text)]) { StreamingEnabled = stream };

    private static readonly ResponseTool Weather = ResponseTool.CreateFunctionTool(
        "get_weather", BinaryData.FromString("""{"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}"""), strictModeEnabled: false);

    [Fact]
    public async Task TheClientGetsAResponse()
    {
        await using var server = await ResponsesEndpointTests.Start();
        ResponseResult response = await Client(server).CreateResponseAsync(Options("Hello there. Not this."));
        Assert.Equal("Hello there.", response.GetOutputText());
        Assert.Equal(ResponseStatus.Completed, response.Status);
        Assert.True(response.Usage.OutputTokenCount > 0);
        Assert.Equal(server.Engine.LastRequest.PromptTokenIds.Count, response.Usage.InputTokenCount);
    }

    [Fact]
    public async Task TheClientStreamsText()
    {
        await using var server = await ResponsesEndpointTests.Start();
        var text = "";
        ResponseResult? completed = null;
        await foreach (var update in await Client(server).CreateResponseStreamingAsync(Options("Hello there. Not this.", stream: true)))
        {
            if (update is StreamingResponseOutputTextDeltaUpdate delta) text += delta.Delta;
            if (update is StreamingResponseCompletedUpdate done) completed = done.Response;
        }
        Assert.Equal("Hello there.", text);
        Assert.Equal("Hello there.", completed!.GetOutputText());
    }

    [Fact]
    public async Task TheClientReadsAFunctionCallAndSendsItsResultBack()
    {
        await using var server = await ResponsesEndpointTests.Start();
        var options = Options("<tool_call>{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}</tool_call>.");
        options.Tools.Add(Weather);
        ResponseResult response = await Client(server).CreateResponseAsync(options);
        var call = Assert.IsType<FunctionCallResponseItem>(Assert.Single(response.OutputItems));
        Assert.Equal("get_weather", call.FunctionName);
        Assert.Equal("{\"city\": \"Paris\"}", call.FunctionArguments.ToString());

        var next = new CreateResponseOptions("fake-model", [
            ResponseItem.CreateUserMessageItem("Weather in Paris?"), call, ResponseItem.CreateFunctionCallOutputItem(call.CallId, "Sunny. Warm.")]);
        next.Tools.Add(Weather);
        ResponseResult answer = await Client(server).CreateResponseAsync(next);
        // The echo template renders the last message: the tool's result.
        Assert.Equal("Sunny.", answer.GetOutputText());
    }

    [Fact]
    public async Task TheClientStreamsAFunctionCall()
    {
        await using var server = await ResponsesEndpointTests.Start();
        var options = Options("<tool_call>{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Oslo\"}}</tool_call>.", stream: true);
        options.Tools.Add(Weather);
        var arguments = "";
        FunctionCallResponseItem? done = null;
        await foreach (var update in await Client(server).CreateResponseStreamingAsync(options))
        {
            if (update is StreamingResponseFunctionCallArgumentsDeltaUpdate delta) arguments += delta.Delta.ToString();
            if (update is StreamingResponseOutputItemDoneUpdate { Item: FunctionCallResponseItem item }) done = item;
        }
        Assert.Equal("{\"city\": \"Oslo\"}", arguments);
        Assert.Equal(("get_weather", arguments), (done!.FunctionName, done.FunctionArguments.ToString()));
    }
}
