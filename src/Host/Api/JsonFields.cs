using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace LlmEngine.Host.Api;

/// <summary>Reads a request body as a JSON object and its fields by name, so that a field of the
/// wrong type is reported by its API name (a 400 that says "'max_tokens' must be an integer")
/// rather than as a deserialiser's path.</summary>
internal static class JsonFields
{
    /// <summary>Parses the body; malformed JSON, a non-object body, a non-JSON content type and an
    /// oversized body become <see cref="ApiException"/>s with fitting statuses.</summary>
    public static async Task<JsonDocument> ReadBody(HttpRequest request, CancellationToken ct)
    {
        // A missing content type is taken as JSON (as FastAPI does); another one is refused.
        if (request.ContentType is { Length: > 0 } && !request.HasJsonContentType())
            throw new ApiException(415, $"Unsupported content type '{request.ContentType}'; send application/json.");
        JsonDocument doc;
        try
        {
            doc = await JsonDocument.ParseAsync(request.Body, default, ct);
        }
        catch (JsonException e)
        {
            throw ApiException.BadRequest($"The request body is not valid JSON: {e.Message}");
        }
        catch (IOException e) when (e is not BadHttpRequestException && !ct.IsCancellationRequested)
        {
            // Kestrel reports a malformed body (a chunk size that overflows, bad chunk framing) so.
            throw ApiException.BadRequest($"The request body could not be read: {ApiException.Summary(e.Message)}");
        }
        if (doc.RootElement.ValueKind != JsonValueKind.Object)
        {
            doc.Dispose();
            throw ApiException.BadRequest("The request body must be a JSON object.");
        }
        if (InvalidText(doc.RootElement) is { } where)
        {
            doc.Dispose();
            throw ApiException.BadRequest($"The request body holds text that is not valid Unicode (invalid UTF-8 or a lone surrogate) in '{ApiException.Echo(where)}'.", where);
        }
        return doc;
    }

    // The parser accepts invalid UTF-8 and escaped lone surrogates inside strings; reading such a
    // string later throws. Every name and string is checked once here so no field reader meets one.
    private static string? InvalidText(JsonElement e, string path = "")
    {
        switch (e.ValueKind)
        {
            case JsonValueKind.String:
                return Decodes(e.GetString) ? null : path;
            case JsonValueKind.Array:
                var i = 0;
                foreach (var item in e.EnumerateArray())
                    if (InvalidText(item, $"{path}[{i++}]") is { } bad) return bad;
                return null;
            case JsonValueKind.Object:
                foreach (var p in e.EnumerateObject())
                {
                    if (!Decodes(() => p.Name)) return path.Length == 0 ? "(a field name)" : path;
                    if (InvalidText(p.Value, path.Length == 0 ? p.Name : $"{path}.{p.Name}") is { } bad) return bad;
                }
                return null;
            default:
                return null;
        }
    }

    private static bool Decodes(Func<string?> read)
    {
        try { read(); return true; }
        catch (InvalidOperationException) { return false; }
    }

    /// <summary>The field, or null when it is absent or JSON null.</summary>
    public static JsonElement? Get(JsonElement obj, string name) =>
        obj.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null ? v : null;

    public static string? String(JsonElement obj, string name) => Get(obj, name) switch
    {
        null => null,
        { ValueKind: JsonValueKind.String } v => v.GetString(),
        var v => throw WrongType(name, "a string", v.Value),
    };

    public static bool? Bool(JsonElement obj, string name) => Get(obj, name) switch
    {
        null => null,
        { ValueKind: JsonValueKind.True } => true,
        { ValueKind: JsonValueKind.False } => false,
        var v => throw WrongType(name, "a boolean", v.Value),
    };

    public static double? Number(JsonElement obj, string name) => Get(obj, name) switch
    {
        null => null,
        { ValueKind: JsonValueKind.Number } v => v.GetDouble(),
        var v => throw WrongType(name, "a number", v.Value),
    };

    public static long? Long(JsonElement obj, string name) => Get(obj, name) switch
    {
        null => null,
        { } v => AsLong(v, name),
    };

    public static int? Int(JsonElement obj, string name) => Long(obj, name) switch
    {
        null => null,
        >= int.MinValue and <= int.MaxValue and var l => (int)l,
        var l => throw ApiException.BadRequest($"'{name}' is out of range: {l}", name),
    };

    /// <summary>A string or a list of strings (as "stop" is given).</summary>
    public static IReadOnlyList<string>? StringOrList(JsonElement obj, string name) => Get(obj, name) switch
    {
        null => null,
        { ValueKind: JsonValueKind.String } v => [v.GetString()!],
        { ValueKind: JsonValueKind.Array } v => [.. v.EnumerateArray().Select(e => e.ValueKind == JsonValueKind.String
            ? e.GetString()! : throw WrongType(name, "a string or a list of strings", v))],
        var v => throw WrongType(name, "a string or a list of strings", v.Value),
    };

    public static IReadOnlyList<int>? IntList(JsonElement obj, string name) => Get(obj, name) switch
    {
        null => null,
        { ValueKind: JsonValueKind.Array } v => [.. v.EnumerateArray().Select(e => TokenId(e, name))],
        var v => throw WrongType(name, "a list of integers", v.Value),
    };

    public static int TokenId(JsonElement e, string name) =>
        e.ValueKind == JsonValueKind.Number && e.TryGetInt32(out var id) && id >= 0
            ? id
            : throw ApiException.BadRequest($"'{name}' must hold non-negative integer token ids, got {Describe(e)}", name);

    private static long AsLong(JsonElement v, string name)
    {
        if (v.ValueKind != JsonValueKind.Number) throw WrongType(name, "an integer", v);
        if (v.TryGetInt64(out var l)) return l;
        // 16.0 is taken as 16, as pydantic's lax mode does; 16.5 is not an integer.
        var d = v.GetDouble();
        if (d == Math.Floor(d) && Math.Abs(d) < 1e15) return (long)d;
        throw WrongType(name, "an integer", v);
    }

    public static ApiException WrongType(string name, string expected, JsonElement got) =>
        ApiException.BadRequest($"'{name}' must be {expected}, got {Describe(got)}", name);

    private static string Describe(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.String => $"the string {Truncate(e.GetRawText())}",
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "a list",
        JsonValueKind.True or JsonValueKind.False => $"the boolean {e.GetRawText()}",
        _ => Truncate(e.GetRawText()),
    };

    private static string Truncate(string s) => s.Length <= 40 ? s : s[..40] + "...";
}
