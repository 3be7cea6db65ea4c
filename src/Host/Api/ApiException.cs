using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace LlmEngine.Host.Api;

/// <summary>An error the client is told about, as OpenAI shapes it:
/// <c>{"error": {"message", "type", "param", "code"}}</c> with an HTTP status.</summary>
public sealed class ApiException(int status, string message, string type = ApiException.InvalidRequest, string? param = null, string? code = null)
    : Exception(message)
{
    public const string InvalidRequest = "invalid_request_error";

    public int Status { get; } = status;
    public string Type { get; } = type;
    public string? Param { get; } = param;
    public string? Code { get; } = code;

    public static ApiException BadRequest(string message, string? param = null) => new(400, message, InvalidRequest, param);

    public static ApiException ModelNotFound(string model) =>
        new(404, $"The model `{model}` does not exist.", "NotFoundError", "model", "model_not_found");

    public static ApiException NotServing() =>
        new(503, "The engine is not serving requests (starting up or shutting down).", "service_unavailable_error", code: "engine_not_serving");

    public static ApiException PromptTooLong(int maxModelLength, int promptTokens) =>
        BadRequest($"This model's maximum context length is {maxModelLength} tokens. However, your request has "
                   + $"{promptTokens} input tokens. Please reduce the length of the input messages.");
}

/// <summary>Writes error objects; one shape for every status the server sends.</summary>
public static class ApiErrors
{
    /// <summary>The error object as a JSON document (also what a stream sends when it fails midway).</summary>
    public static byte[] Body(int status, string message, string type, string? param, string? code)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteStartObject("error");
            w.WriteString("message", message);
            w.WriteString("type", type);
            w.WriteString("param", param);
            if (code is null) w.WriteNumber("code", status); else w.WriteString("code", code);
            w.WriteEndObject();
            w.WriteEndObject();
        }
        return buffer.ToArray();
    }

    public static byte[] Body(ApiException e) => Body(e.Status, e.Message, e.Type, e.Param, e.Code);

    public static Task Write(HttpContext context, ApiException e) =>
        Write(context, e.Status, e.Message, e.Type, e.Param, e.Code);

    public static async Task Write(HttpContext context, int status, string message, string type, string? param = null, string? code = null)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        await context.Response.Body.WriteAsync(Body(status, message, type, param, code), context.RequestAborted);
    }
}
