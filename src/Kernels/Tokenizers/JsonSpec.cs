using System.Text.Json;
using System.Text.RegularExpressions;

namespace LlmEngine.Kernels.Tokenizers;

/// <summary>Reading the parts of tokenizer.json. Problems surface as
/// <see cref="InvalidDataException"/> with a short message; the loader prefixes the file name.</summary>
internal static class JsonSpec
{
    /// <summary>The property, or null when it is missing or JSON null.</summary>
    public static JsonElement? Opt(this JsonElement e, string name) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out JsonElement v) && v.ValueKind != JsonValueKind.Null
            ? v
            : null;

    public static JsonElement Req(this JsonElement e, string name) =>
        e.Opt(name) ?? throw new InvalidDataException($"'{name}' is missing in {Describe(e)}");

    public static string Str(this JsonElement e, string name) =>
        e.Req(name).GetString() ?? throw new InvalidDataException($"'{name}' is not a string in {Describe(e)}");

    public static bool Bool(this JsonElement e, string name, bool fallback) =>
        e.Opt(name) is { } v ? v.GetBoolean() : fallback;

    public static string Type(this JsonElement e) => e.Str("type");

    public static InvalidDataException Unsupported(string what, JsonElement e) =>
        new($"{what} '{e.Type()}' is not supported");

    /// <summary>A Hugging Face pattern, <c>{"String": "..."}</c> (literal) or <c>{"Regex": "..."}</c>.
    /// Regexes run on .NET's engine rather than Oniguruma; the patterns real checkpoints use
    /// (\p{L}, \p{N}, \s, lookahead, (?i:...)) mean the same in both, except that .NET sees a
    /// character outside the BMP as two surrogates.</summary>
    public static Regex Pattern(this JsonElement e, string name)
    {
        JsonElement p = e.Req(name);
        if (p.Opt("String") is { } literal)
            return new Regex(Regex.Escape(literal.GetString()!), RegexOptions.CultureInvariant);
        if (p.Opt("Regex") is { } regex)
            return new Regex(regex.GetString()!, RegexOptions.CultureInvariant);
        throw new InvalidDataException($"'{name}' is neither a String nor a Regex pattern");
    }

    private static string Describe(JsonElement e) =>
        e.Opt("type") is { ValueKind: JsonValueKind.String } t ? t.GetString()! : "the tokenizer";
}
