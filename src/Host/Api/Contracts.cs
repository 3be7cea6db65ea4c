using System.Text.Json;
using System.Text.Json.Serialization;

namespace LlmEngine.Host.Api;

// Response bodies as OpenAI names them (snake_case through ApiJson.Options). Nulls are written
// ("logprobs": null, "finish_reason": null) as OpenAI does, except where marked.

internal sealed record Usage(int PromptTokens, int CompletionTokens, int TotalTokens)
{
    public static Usage Of(int prompt, int completion) => new(prompt, completion, prompt + completion);
}

internal sealed record CompletionLogprobs(
    List<string> Tokens, List<double?> TokenLogprobs, List<Dictionary<string, double>?> TopLogprobs, List<int> TextOffset);

internal sealed record CompletionChoice(int Index, string Text, CompletionLogprobs? Logprobs, string? FinishReason)
{
    /// <summary>vLLM's prompt_logprobs: per prompt token (null for the first) its own and its top
    /// alternatives' log-probabilities, by token id; written only when asked for.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyList<Dictionary<string, PromptTokenLogprob>?>? PromptLogprobs { get; init; }
}

/// <summary>One entry of vLLM's prompt_logprobs: the log-probability, the rank among all tokens
/// (1: most likely) and the token's text.</summary>
internal sealed record PromptTokenLogprob(double Logprob, int Rank, string DecodedToken);

internal sealed record CompletionResponse(
    string Id, string Object, long Created, string Model, IReadOnlyList<CompletionChoice> Choices,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] Usage? Usage);

internal sealed record ChatTopLogprob(string Token, double Logprob, int[] Bytes);

internal sealed record ChatTokenLogprob(string Token, double Logprob, int[] Bytes, IReadOnlyList<ChatTopLogprob> TopLogprobs);

internal sealed record ChatLogprobs(IReadOnlyList<ChatTokenLogprob> Content);

internal sealed record ChatResponseMessage(
    string Role, string? Content,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] IReadOnlyList<ToolCall>? ToolCalls = null);

/// <summary>A function call: whole in a message; in a stream, the name comes once and arguments in pieces.</summary>
internal sealed record ToolCallFunction(
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Name, string Arguments);

internal sealed record ToolCall(string Id, string Type, ToolCallFunction Function);

internal sealed record ToolCallDelta(
    int Index,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Id,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Type,
    ToolCallFunction Function);

internal sealed record ChatChoice(int Index, ChatResponseMessage Message, ChatLogprobs? Logprobs, string? FinishReason);

internal sealed record ChatResponse(string Id, string Object, long Created, string Model, IReadOnlyList<ChatChoice> Choices, Usage Usage)
{
    /// <summary>vLLM's prompt_logprobs of the templated prompt, as on <see cref="CompletionChoice"/>.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyList<Dictionary<string, PromptTokenLogprob>?>? PromptLogprobs { get; init; }
}

internal sealed record ChatDelta(
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Role,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Content,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] IReadOnlyList<ToolCallDelta>? ToolCalls = null);

internal sealed record ChatChunkChoice(int Index, ChatDelta Delta, ChatLogprobs? Logprobs, string? FinishReason);

internal sealed record ChatChunk(
    string Id, string Object, long Created, string Model, IReadOnlyList<ChatChunkChoice> Choices,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] Usage? Usage);

internal sealed record ModelCard(string Id, string Object, long Created, string OwnedBy, string Root, int MaxModelLen);

internal sealed record ModelList(string Object, IReadOnlyList<ModelCard> Data);

internal static class ApiJson
{
    public static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        // Logprobs may be -inf; JSON has no such number, so it is written as vLLM clamps it.
        NumberHandling = JsonNumberHandling.Strict,
    };

    public static byte[] Bytes<T>(T value) => JsonSerializer.SerializeToUtf8Bytes(value, Options);

    public static long Now() => DateTimeOffset.UtcNow.ToUnixTimeSeconds();

    public static string NewId(string prefix) => prefix + Guid.NewGuid().ToString("N");

    /// <summary>-inf and NaN become -9999.0, as vLLM writes them.</summary>
    public static double Finite(double logprob) => double.IsFinite(logprob) ? logprob : -9999.0;
}
