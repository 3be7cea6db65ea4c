using System.Text.Json;
using System.Text.RegularExpressions;
using LlmEngine.Actors.Engine;
using Microsoft.AspNetCore.Http;

namespace LlmEngine.Host.Api;

/// <summary>An error the client is told about, as OpenAI shapes it:
/// <c>{"error": {"message", "type", "param", "code"}}</c> with an HTTP status.</summary>
internal sealed class ApiException(int status, string message, string type = ApiException.InvalidRequest, string? param = null, string? code = null)
    : Exception(message)
{
    public const string InvalidRequest = "invalid_request_error";

    public int Status { get; } = status;
    public string Type { get; } = type;
    public string? Param { get; } = param;
    public string? Code { get; } = code;
    /// <summary>Seconds to send in a Retry-After header (an overloaded engine), or null.</summary>
    public int? RetryAfterSeconds { get; init; }

    /// <summary>Longest client-given text (a model name, a path) an error message repeats.</summary>
    public const int MaxEchoed = 256;

    public static string Echo(string text) => text.Length <= MaxEchoed ? text : text[..MaxEchoed] + $"... ({text.Length} characters)";

    /// <summary>
    /// The error a client is told for any failure: ours as they are, the engine's by kind (a full
    /// queue 503 with Retry-After, a dead engine 503, a request's failed step 500 with its own
    /// message), anything else a 500 with only the first line of its message, paths masked: a
    /// native error's full text holds a stack trace and install paths, which are logged, never sent.
    /// </summary>
    public static ApiException From(Exception e) => e switch
    {
        ApiException api => api,
        EngineOverloadedException o => new(503, o.Message, "service_unavailable_error", code: "engine_overloaded")
        {
            RetryAfterSeconds = Math.Max(1, (int)Math.Ceiling(o.RetryAfter.TotalSeconds)),
        },
        EngineDeadException d => new(503, d.Message, "service_unavailable_error", code: "engine_dead"),
        EngineUnavailableException u => new(503, u.Message, "service_unavailable_error", code: "stage_unavailable") { RetryAfterSeconds = 5 },
        EngineStoppingException => NotServing(),
        RequestFailedException f => new(500, f.Message, "server_error", code: "request_failed"),
        _ => new(500, "Internal server error: " + Summary(e.Message), "server_error", code: "internal_error"),
    };

    /// <summary>The first line of an error message, at most 200 characters, with file paths masked.</summary>
    public static string Summary(string message)
    {
        var line = message.Split('\n', 2)[0].Trim();
        line = Regex.Replace(line, @"(?:[A-Za-z]:)?[\\/](?:[\w.+~-]+[\\/])+[\w.+~-]*", "<path>");
        return line.Length <= 200 ? line : line[..200] + "...";
    }

    public static ApiException BadRequest(string message, string? param = null) => new(400, message, InvalidRequest, param);

    public static ApiException ModelNotFound(string model) =>
        new(404, $"The model `{Echo(model)}` does not exist.", "NotFoundError", "model", "model_not_found");

    public static ApiException NotServing() =>
        new(503, "The engine is not serving requests (starting up or shutting down).", "service_unavailable_error", code: "engine_not_serving");

    public static ApiException PromptTooLong(int maxModelLength, int promptTokens) =>
        BadRequest($"This model's maximum context length is {maxModelLength} tokens. However, your request has "
                   + $"{promptTokens} input tokens. Please reduce the length of the input messages.");
}

/// <summary>Writes error objects; one shape for every status the server sends.</summary>
internal static class ApiErrors
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

    public static Task Write(HttpContext context, ApiException e)
    {
        if (e.RetryAfterSeconds is { } seconds) context.Response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return Write(context, e.Status, e.Message, e.Type, e.Param, e.Code);
    }

    public static async Task Write(HttpContext context, int status, string message, string type, string? param = null, string? code = null)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        await context.Response.Body.WriteAsync(Body(status, message, type, param, code), context.RequestAborted);
    }
}
