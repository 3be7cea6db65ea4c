using System.Text.Json;
using System.Text.Json.Serialization;

namespace LlmEngine.Host.Api.Responses;

// The Responses API's bodies as OpenAI names them (snake_case through ApiJson.Options).

internal sealed record ResponseIncompleteDetails(string Reason);

internal sealed record ResponseInputTokensDetails(int CachedTokens);

internal sealed record ResponseOutputTokensDetails(int ReasoningTokens);

internal sealed record ResponseUsage(
    int InputTokens, ResponseInputTokensDetails InputTokensDetails, int OutputTokens, ResponseOutputTokensDetails OutputTokensDetails, int TotalTokens)
{
    public static ResponseUsage Of(int input, int output) => new(input, new(0), output, new(0), input + output);
}

/// <summary>Generated text; its logprobs as chat's entries (empty unless top_logprobs was asked).</summary>
internal sealed record ResponseOutputText(string Type, string Text, IReadOnlyList<object> Annotations, IReadOnlyList<ChatTokenLogprob> Logprobs)
{
    public static ResponseOutputText Of(string text, IReadOnlyList<ChatTokenLogprob> logprobs) => new("output_text", text, [], logprobs);
}

/// <summary>An output item: the assistant's message.</summary>
internal sealed record ResponseMessageItem(string Type, string Id, string Status, string Role, IReadOnlyList<ResponseOutputText> Content);

/// <summary>An output item: a call of one of the request's function tools.</summary>
internal sealed record ResponseFunctionCallItem(string Type, string Id, string CallId, string Name, string Arguments, string Status);

/// <summary>The response object; the request's tools, tool_choice, text and metadata are echoed as sent.</summary>
internal sealed record ResponseObject(
    string Id, string Object, long CreatedAt, string Status, object? Error, ResponseIncompleteDetails? IncompleteDetails,
    string? Instructions, int? MaxOutputTokens, string Model, IReadOnlyList<object> Output, bool ParallelToolCalls,
    string? PreviousResponseId, bool Store, double Temperature, double TopP, JsonElement Text, JsonElement ToolChoice,
    JsonElement Tools, string Truncation, ResponseUsage? Usage, string? User, JsonElement Metadata);

/// <summary>A streamed event: its type and sequence number, then the fields of its kind.</summary>
internal sealed record ResponseEvent(
    string Type, int SequenceNumber,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] ResponseObject? Response = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] int? OutputIndex = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] object? Item = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? ItemId = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] int? ContentIndex = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] ResponseOutputText? Part = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Delta = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Text = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Arguments = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Name = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] IReadOnlyList<ChatTokenLogprob>? Logprobs = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Code = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Message = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Param = null);
