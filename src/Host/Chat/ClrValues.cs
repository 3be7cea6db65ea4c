using System.Collections;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace LlmEngine.Host.Chat;

/// <summary>
/// Crossing into and out of the template world: CLR values (and JSON) become Python-like
/// values once, at the start of a render, so the evaluator only ever sees its own types.
/// </summary>
internal static class ClrValues
{
    public static object? ToTemplate(object? value) => value switch
    {
        null => null,
        string s => s,
        bool b => b,
        char c => c.ToString(),
        sbyte or byte or short or ushort or int or uint or long => Convert.ToInt64(value, CultureInfo.InvariantCulture),
        ulong u => u <= long.MaxValue ? (object)(long)u : (double)u,
        float or double or decimal => Convert.ToDouble(value, CultureInfo.InvariantCulture),
        JsonElement e => ToTemplate(FromJson(e)),
        JsonNode node => FromJsonNode(node),
        IEnumerable<KeyValuePair<string, object?>> pairs => Dict(pairs.Select(p => (p.Key, p.Value))),
        IDictionary dictionary => Dict(dictionary.Keys.Cast<object>().Select(k => (Convert.ToString(k, CultureInfo.InvariantCulture)!, dictionary[k]))),
        IEnumerable items => new PyList(items.Cast<object?>().Select(ToTemplate).ToArray()),
        _ => throw new ArgumentException($"Values of type {value.GetType()} cannot be passed to a chat template.", nameof(value)),
    };

    private static object? FromJsonNode(JsonNode node)
    {
        using var document = JsonDocument.Parse(node.ToJsonString());
        return ToTemplate(FromJson(document.RootElement));
    }

    private static PyDict Dict(IEnumerable<(string Key, object? Value)> pairs)
    {
        var dict = new PyDict();
        foreach (var (key, value) in pairs) dict.Set(key, ToTemplate(value));
        return dict;
    }

    /// <summary>
    /// JSON to plain CLR values as Python's json.loads would type them: objects keep key
    /// order, and numbers with a fraction or exponent are floats, others ints.
    /// </summary>
    public static object? FromJson(JsonElement element) => element.ValueKind switch
    {
        JsonValueKind.Object => element.EnumerateObject().Aggregate(
            new OrderedDictionary<string, object?>(StringComparer.Ordinal),
            (dict, property) => { dict[property.Name] = FromJson(property.Value); return dict; }),
        JsonValueKind.Array => element.EnumerateArray().Select(FromJson).ToList(),
        JsonValueKind.String => element.GetString(),
        JsonValueKind.Number => IsInteger(element.GetRawText()) && element.TryGetInt64(out var l) ? (object)l : element.GetDouble(),
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        _ => null,
    };

    private static bool IsInteger(string number) => number.IndexOfAny(['.', 'e', 'E']) < 0;
}
