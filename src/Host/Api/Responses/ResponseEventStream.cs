using System.Text;

namespace LlmEngine.Host.Api.Responses;

/// <summary>
/// A response as OpenAI streams it: <c>response.created</c> and <c>response.in_progress</c>; each
/// output item opened (<c>response.output_item.added</c>), filled (a message's text part in
/// <c>response.output_text.delta</c>s, a function call's arguments in
/// <c>response.function_call_arguments.delta</c>s) and closed with its <c>.done</c> events; then
/// <c>response.completed</c> (or <c>response.incomplete</c>) with the whole response. Fed with
/// chat deltas (<see cref="ChatDelta"/>: content, or a call's start and its arguments), so tool
/// calls stream as chat reads them.
/// </summary>
internal sealed class ResponseEventStream(ServerSentEvents sse, ResponseShape shape)
{
    private readonly List<object> _output = [];
    private int _sequence;
    private Open? _open;

    /// <summary>The item being streamed: a message (text and logprobs so far) or a call (its arguments so far).</summary>
    private sealed record Open(string ItemId, string? CallId, string? Name)
    {
        public StringBuilder Text { get; } = new();
        public List<ChatTokenLogprob> Logprobs { get; } = [];
    }

    public async Task Begin()
    {
        var response = shape.With("in_progress", [], null);
        await Send(new ResponseEvent("response.created", 0, Response: response));
        await Send(new ResponseEvent("response.in_progress", 0, Response: response));
    }

    /// <summary>A step's deltas; its tokens' logprobs go with the message's text.</summary>
    public async Task Add(IReadOnlyList<ChatDelta> deltas, IReadOnlyList<ChatTokenLogprob> logprobs)
    {
        foreach (var delta in deltas)
        {
            if (delta.Content is { Length: > 0 } text)
            {
                if (_open is not { CallId: null }) await OpenMessage();
                _open!.Text.Append(text);
                _open.Logprobs.AddRange(logprobs);
                await Send(new ResponseEvent("response.output_text.delta", 0, OutputIndex: _output.Count, ItemId: _open.ItemId, ContentIndex: 0, Delta: text, Logprobs: logprobs));
                logprobs = [];
            }
            foreach (var call in delta.ToolCalls ?? [])
            {
                if (call.Id is not null) await OpenCall(call.Id, call.Function.Name!);
                if (call.Function.Arguments.Length == 0 || _open is not { CallId: not null } open) continue;
                open.Text.Append(call.Function.Arguments);
                await Send(new ResponseEvent("response.function_call_arguments.delta", 0, OutputIndex: _output.Count, ItemId: open.ItemId, Delta: call.Function.Arguments));
            }
        }
    }

    /// <summary>Closes the open item and sends the finished response.</summary>
    public async Task End(string status, ResponseUsage usage)
    {
        // An output with nothing in it is still one (empty) message, as the response object has it.
        if (_output.Count == 0 && _open is null) await OpenMessage();
        await Close(status);
        var response = shape.With(status, _output, usage);
        await Send(new ResponseEvent(status == "incomplete" ? "response.incomplete" : "response.completed", 0, Response: response));
    }

    /// <summary>A failure midway, as the Responses API reports one: an <c>error</c> event.</summary>
    public Task Error(ApiException e) =>
        Send(new ResponseEvent("error", 0, Code: e.Code ?? e.Type, Message: e.Message, Param: e.Param));

    private async Task OpenMessage()
    {
        await Close("completed");
        _open = new Open(ApiJson.NewId("msg_"), null, null);
        await Send(new ResponseEvent("response.output_item.added", 0, OutputIndex: _output.Count,
            Item: new ResponseMessageItem("message", _open.ItemId, "in_progress", "assistant", [])));
        await Send(new ResponseEvent("response.content_part.added", 0, OutputIndex: _output.Count, ItemId: _open.ItemId, ContentIndex: 0,
            Part: ResponseOutputText.Of("", [])));
    }

    private async Task OpenCall(string callId, string name)
    {
        await Close("completed");
        _open = new Open(ApiJson.NewId("fc_"), callId, name);
        await Send(new ResponseEvent("response.output_item.added", 0, OutputIndex: _output.Count,
            Item: ResponseShape.FunctionCall(_open.ItemId, callId, name, "", "in_progress")));
    }

    private async Task Close(string status)
    {
        if (_open is not { } open) return;
        _open = null;
        var index = _output.Count;
        var text = open.Text.ToString();
        object item;
        if (open.CallId is null)
        {
            var part = ResponseOutputText.Of(text, open.Logprobs);
            await Send(new ResponseEvent("response.output_text.done", 0, OutputIndex: index, ItemId: open.ItemId, ContentIndex: 0, Text: text, Logprobs: open.Logprobs));
            await Send(new ResponseEvent("response.content_part.done", 0, OutputIndex: index, ItemId: open.ItemId, ContentIndex: 0, Part: part));
            item = ResponseShape.Message(open.ItemId, status, text, open.Logprobs);
        }
        else
        {
            await Send(new ResponseEvent("response.function_call_arguments.done", 0, OutputIndex: index, ItemId: open.ItemId, Arguments: text, Name: open.Name));
            item = ResponseShape.FunctionCall(open.ItemId, open.CallId, open.Name!, text, "completed");
        }
        _output.Add(item);
        await Send(new ResponseEvent("response.output_item.done", 0, OutputIndex: index, Item: item));
    }

    private Task Send(ResponseEvent e) => sse.SendEvent(e.Type, ApiJson.Bytes(e with { SequenceNumber = _sequence++ }));
}
