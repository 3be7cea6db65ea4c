using System.Text;
using System.Text.Json;
using LlmEngine.Actors.Engine;
using LlmEngine.Host.Api.Tools;
using LlmEngine.Host.Metrics;
using LlmEngine.Kernels.Sampling;
using LlmEngine.Scheduling;
using Microsoft.AspNetCore.Http;
using static LlmEngine.Host.Api.JsonFields;

namespace LlmEngine.Host.Api.Responses;

/// <summary>
/// POST /v1/responses (OpenAI's Responses API, <c>store: false</c> semantics): the body is
/// translated into a chat request (<see cref="ResponsesRequest"/>) and run as chat runs it, so
/// structured outputs and tools behave as they do there; the output comes back as a response
/// object (a message item, function_call items) or as its typed event stream.
/// </summary>
internal sealed class ResponsesEndpoint(ILlmEngine engine, ServerMetrics metrics, ChatCompletionsEndpoint chat, string servedModel)
{
    private readonly LogprobFormatter _logprobs = new(engine.Tokenizer);

    public async Task Handle(HttpContext context)
    {
        using var doc = await ReadBody(context.Request, context.RequestAborted);
        var body = doc.RootElement;
        var stream = Bool(body, "stream") ?? false;
        using var chatBody = ResponsesRequest.ToChat(body);
        var request = Renaming(() => chat.Prepare(chatBody.RootElement, ResponsesRequest.Renamed, context.RequestAborted));
        var shape = new ResponseShape(ApiJson.NewId("resp_"), ApiJson.Now(), servedModel, body, request.Sampling);
        PromptInput[] prompts = [new(request.Tokens, null)];
        await using var run = await EngineRun.Start(engine, metrics, shape.Id, prompts, request.Sampling, context.RequestAborted, RequestChecks.Timeout(chatBody.RootElement));
        if (stream) await Stream(context, run, shape, request);
        else await context.Response.WriteAsJsonAsync(await Collect(run, shape, request), ApiJson.Options, context.RequestAborted);
    }

    /// <summary>Chat's checks name chat's fields; the client sent this endpoint's.</summary>
    private static T Renaming<T>(Func<T> read)
    {
        try
        {
            return read();
        }
        catch (ApiException e) when (e.Param is { } p && ResponsesRequest.Renamed.TryGetValue(p, out var renamed))
        {
            throw new ApiException(e.Status, e.Message, e.Type, renamed, e.Code);
        }
    }

    private async Task<ResponseObject> Collect(EngineRun run, ResponseShape shape, ChatCompletionsEndpoint.ChatRequest request)
    {
        var acc = new ChoiceAccumulator(1, 1);
        await foreach (var (p, o) in run.Outputs()) acc.Add(p, o);
        var choice = acc.Choices[0];
        var status = ResponseShape.Status(choice.FinishReason);
        var logprobs = Logprobs(choice.Logprobs, request.TopLogprobs);
        var output = new List<object>();
        var (content, calls) = request.Tools.Parser is { } parser ? ToolCallStream.Message(parser, choice.Text) : (choice.Text, null);
        if (calls is null || content is { Length: > 0 })
            output.Add(ResponseShape.Message(ApiJson.NewId("msg_"), status, content ?? "", logprobs));
        foreach (var call in calls ?? [])
            output.Add(ResponseShape.FunctionCall(ApiJson.NewId("fc_"), call.Id, call.Function.Name!, call.Function.Arguments, "completed"));
        return shape.With(status, output, ResponseUsage.Of(request.Tokens.Length, acc.CompletionTokens));
    }

    private IReadOnlyList<ChatTokenLogprob> Logprobs(IEnumerable<SampledToken> tokens, int? top) =>
        top is { } k ? _logprobs.Chat(tokens, k).Content : [];

    private async Task Stream(HttpContext context, EngineRun run, ResponseShape shape, ChatCompletionsEndpoint.ChatRequest request)
    {
        var sse = await ServerSentEvents.Start(context);
        var events = new ResponseEventStream(sse, shape);
        await StreamGuard.Run(context, sse, async () =>
        {
            await events.Begin();
            var tracker = new StreamTracker(1, 1);
            var calls = request.Tools.Parser is { } parser ? new ToolCallStream(parser) : null;
            var text = new StringBuilder();
            var finish = "abort";
            async Task Step(string delta, IReadOnlyList<SampledToken> tokens, string? reason)
            {
                text.Append(delta);
                var deltas = calls?.Next(text.ToString(), reason is not null) ?? (delta.Length > 0 ? [new ChatDelta(null, delta)] : []);
                await events.Add(deltas, Logprobs(tokens, request.TopLogprobs));
                finish = reason ?? finish;
            }
            await foreach (var (_, output) in run.Outputs())
            {
                foreach (var d in output.Deltas)
                {
                    tracker.Sent(d.Index, d);
                    await Step(d.Text, d.Logprobs, d.FinishReason);
                }
                foreach (var (_, rest, reason) in tracker.Closing(0, output)) await Step(rest, [], reason);
            }
            await events.End(ResponseShape.Status(finish), ResponseUsage.Of(request.Tokens.Length, tracker.CompletionTokens));
        }, events.Error);
    }
}

/// <summary>What every response object of one request shares: its id, time, model and the
/// request's settings echoed back.</summary>
internal sealed class ResponseShape(string id, long createdAt, string model, JsonElement body, SamplingParameters sampling)
{
    private static readonly JsonElement TextFormat = JsonSerializer.SerializeToElement(new { format = new { type = "text" } });
    private static readonly JsonElement Auto = JsonSerializer.SerializeToElement("auto");
    private static readonly JsonElement NoTools = JsonSerializer.SerializeToElement(Array.Empty<object>());
    private static readonly JsonElement NoMetadata = JsonSerializer.SerializeToElement(new { });
    private readonly string? _instructions = String(body, "instructions");
    private readonly int? _maxOutputTokens = Int(body, "max_output_tokens");
    private readonly bool _parallel = Bool(body, "parallel_tool_calls") ?? true;
    private readonly JsonElement _text = Get(body, "text")?.Clone() ?? TextFormat;
    private readonly JsonElement _toolChoice = Get(body, "tool_choice")?.Clone() ?? Auto;
    private readonly JsonElement _tools = Get(body, "tools")?.Clone() ?? NoTools;
    private readonly JsonElement _metadata = Get(body, "metadata")?.Clone() ?? NoMetadata;
    private readonly string? _user = String(body, "user");

    public string Id => id;

    /// <summary>The response's status for the output's finish reason: cut off by the budget is
    /// "incomplete", ended early (a timeout, an abort) "cancelled".</summary>
    public static string Status(string finishReason) => finishReason switch
    {
        "length" => "incomplete",
        "abort" => "cancelled",
        _ => "completed",
    };

    public ResponseObject With(string status, IReadOnlyList<object> output, ResponseUsage? usage) =>
        new(id, "response", createdAt, status, null, status == "incomplete" ? new ResponseIncompleteDetails("max_output_tokens") : null,
            _instructions, _maxOutputTokens, model, output, _parallel, null, false, sampling.Temperature, sampling.TopP,
            _text, _toolChoice, _tools, "disabled", usage, _user, _metadata);

    public static ResponseMessageItem Message(string itemId, string status, string text, IReadOnlyList<ChatTokenLogprob> logprobs) =>
        new("message", itemId, status == "incomplete" ? "incomplete" : "completed", "assistant", [ResponseOutputText.Of(text, logprobs)]);

    public static ResponseFunctionCallItem FunctionCall(string itemId, string callId, string name, string arguments, string status) =>
        new("function_call", itemId, callId, name, arguments, status);
}
