using System.Text.Json;
using LlmEngine.Actors.Engine;
using LlmEngine.Kernels.Structured;
using static LlmEngine.Host.Api.JsonFields;

namespace LlmEngine.Host.Api;

/// <summary>
/// The request fields that constrain the output, read into one <see cref="GuideSpec"/> and
/// compiled (with a cache) for the served tokenizer: OpenAI's <c>response_format</c> (text,
/// json_object, json_schema), vLLM's <c>structured_outputs</c> (json, regex, choice, grammar,
/// json_object) and its older <c>guided_json</c> / <c>guided_regex</c> / <c>guided_choice</c> /
/// <c>guided_grammar</c>. More than one constraint, an unknown type or a constraint that does
/// not compile is a 400 naming the field.
/// </summary>
internal sealed class StructuredOutputs(ILlmEngine engine)
{
    private static readonly string[] Guided = ["guided_json", "guided_regex", "guided_choice", "guided_grammar"];
    private readonly Lazy<GuideCompiler?> _compiler = new(() => engine.Tokenizer is { } tokenizer
        ? new GuideCompiler(TokenVocabulary.From(tokenizer, engine.ModelConfig.VocabSize,
            engine.ModelConfig.EosTokenIds.Count > 0 ? engine.ModelConfig.EosTokenIds : tokenizer.EosTokenId is { } eos ? [eos] : []))
        : null);

    /// <summary>The compiled constraint the body asks for, or null.</summary>
    public TokenGuide? Read(JsonElement body)
    {
        var found = new List<(GuideSpec Spec, string Field)>();
        if (ResponseFormat(body) is { } format) found.Add((format, "response_format"));
        if (Get(body, "structured_outputs") is { ValueKind: not JsonValueKind.Null } so) found.AddRange(FromFields(so, "structured_outputs.", ["json", "regex", "choice", "grammar", "json_object"]));
        found.AddRange(FromFields(body, "", Guided));
        if (found.Count == 0) return null;
        if (found.Count > 1)
            throw ApiException.BadRequest($"Only one kind of structured outputs constraint may be given, got {string.Join(", ", found.Select(f => f.Field))}.", found[1].Field);
        return Compile(found[0].Spec, found[0].Field);
    }

    /// <summary>Compiles a constraint made by the server itself (tool calls) or read from the body.</summary>
    public TokenGuide Compile(GuideSpec spec, string field)
    {
        var compiler = _compiler.Value ?? throw ApiException.BadRequest("Structured outputs need the model's tokenizer; this model has none.", field);
        try
        {
            return compiler.Compile(spec);
        }
        catch (GrammarException e)
        {
            throw ApiException.BadRequest($"Invalid {field}: {e.Message}", field);
        }
    }

    private static GuideSpec? ResponseFormat(JsonElement body)
    {
        if (Get(body, "response_format") is not { ValueKind: not JsonValueKind.Null } rf) return null;
        if (rf.ValueKind != JsonValueKind.Object) throw WrongType("response_format", "an object", rf);
        var type = String(rf, "type") ?? throw ApiException.BadRequest("response_format.type is required.", "response_format");
        switch (type)
        {
            case "text":
                return null;
            case "json_object":
                return new GuideSpec(GuideKind.Json, "");
            case "json_schema":
                var js = Get(rf, "json_schema") is { ValueKind: JsonValueKind.Object } j ? j
                    : throw ApiException.BadRequest("response_format.json_schema is required when type is json_schema.", "response_format");
                if (String(js, "name") is null) throw ApiException.BadRequest("response_format.json_schema.name is required.", "response_format");
                _ = Bool(js, "strict");
                var schema = Get(js, "schema") is { ValueKind: JsonValueKind.Object } s ? s.GetRawText() : "{}";
                return new GuideSpec(GuideKind.JsonSchema, schema);
            default:
                throw ApiException.BadRequest($"response_format type '{type}' is not supported; use 'text', 'json_object' or 'json_schema'.", "response_format");
        }
    }

    private static IEnumerable<(GuideSpec, string)> FromFields(JsonElement obj, string prefix, string[] names)
    {
        if (obj.ValueKind != JsonValueKind.Object) throw WrongType(prefix.TrimEnd('.'), "an object", obj);
        foreach (var name in names)
        {
            if (Get(obj, name) is not { ValueKind: not JsonValueKind.Null } v) continue;
            var field = prefix + name;
            var kind = name.Replace("guided_", "");
            yield return (kind switch
            {
                "json" => new GuideSpec(GuideKind.JsonSchema, v.ValueKind switch
                {
                    JsonValueKind.Object => v.GetRawText(),
                    JsonValueKind.String => v.GetString()!,
                    _ => throw WrongType(field, "a JSON schema (an object or its text)", v),
                }),
                "json_object" => v.ValueKind == JsonValueKind.True ? new GuideSpec(GuideKind.Json, "") : throw WrongType(field, "true", v),
                "choice" => GuideSpec.Choice(StringOrList(obj, name) is { Count: > 0 } list ? list : throw ApiException.BadRequest($"{field} must be a non-empty list of strings.", field)),
                _ => new GuideSpec(kind == "regex" ? GuideKind.Regex : GuideKind.Grammar,
                    v.ValueKind == JsonValueKind.String ? v.GetString()! : throw WrongType(field, "a string", v)),
            }, field);
        }
    }
}
