using System.Text.Json;
using static LlmEngine.Kernels.Structured.GrammarExpr;

namespace LlmEngine.Kernels.Structured;

/// <summary>
/// A JSON Schema as a grammar of the JSON texts it allows: what OpenAI's strict mode allows and
/// more. type (one or a list), enum, const, anyOf / oneOf, allOf of one schema, $ref to "#",
/// "#/$defs/..." or "#/definitions/..." (recursion allowed: each target is a rule), objects
/// (properties in the schema's order; required ones always, others optional; no additional
/// properties are generated), arrays (items, minItems, maxItems, prefixItems), strings
/// (minLength, maxLength, pattern), numbers, integers, booleans, null. Numeric bounds, format
/// and uniqueItems are not enforced; keywords that cannot be honoured otherwise are refused.
/// </summary>
internal sealed class JsonSchemaGrammar
{
    private readonly JsonElement _root;
    private readonly Dictionary<string, GrammarExpr> _rules = new();
    private readonly Dictionary<string, string> _refRules = new();

    private JsonSchemaGrammar(JsonElement root) => _root = root;

    public static Grammar Parse(string schemaJson)
    {
        JsonDocument doc;
        try { doc = JsonDocument.Parse(schemaJson); }
        catch (JsonException e) { throw new GrammarException($"the JSON schema is not valid JSON: {e.Message}"); }
        using (doc) return FromElement(doc.RootElement);
    }

    public static Grammar FromElement(JsonElement schema)
    {
        var builder = new JsonSchemaGrammar(schema.Clone());
        try
        {
            var value = builder.Schema(schema, "#");
            builder._rules["root"] = Seq(JsonPieces.Ws, value, JsonPieces.Ws);
        }
        // JsonElement's accessors throw this for a keyword whose value has the wrong JSON type
        // (a string where a list of names belongs, say): the schema's fault, not the server's.
        catch (InvalidOperationException e)
        {
            throw new GrammarException($"the JSON schema has a keyword of the wrong type: {e.Message}");
        }
        return new Grammar(builder._rules, "root");
    }

    private GrammarExpr Schema(JsonElement s, string path)
    {
        if (s.ValueKind == JsonValueKind.True) return Any();
        if (s.ValueKind == JsonValueKind.False) throw new GrammarException($"schema at {path} is false: nothing can match it");
        if (s.ValueKind != JsonValueKind.Object) throw new GrammarException($"schema at {path} must be an object or a boolean");
        if (s.TryGetProperty("$ref", out var reference)) return Ref(reference.GetString() ?? "", path);
        if (s.TryGetProperty("const", out var constant)) return Literal(JsonSerializer.Serialize(constant));
        if (s.TryGetProperty("enum", out var values))
        {
            if (values.ValueKind != JsonValueKind.Array || values.GetArrayLength() == 0) throw new GrammarException($"enum at {path} must be a non-empty array");
            return Alt(values.EnumerateArray().Select(v => Literal(JsonSerializer.Serialize(v))).ToArray());
        }
        foreach (var key in new[] { "anyOf", "oneOf" })
            if (s.TryGetProperty(key, out var options))
                return Alt(Items(options, $"{path}/{key}").Select((o, i) => Schema(o, $"{path}/{key}/{i}")).ToArray());
        if (s.TryGetProperty("allOf", out var all))
        {
            var parts = Items(all, $"{path}/allOf");
            if (parts.Count != 1) throw new GrammarException($"allOf at {path}: only a single schema is supported");
            return Schema(parts[0], $"{path}/allOf/0");
        }
        if (s.TryGetProperty("not", out _)) throw new GrammarException($"'not' at {path} is not supported");
        var types = Types(s, path);
        return types.Count == 0 ? Any() : Alt(types.Select(t => Typed(s, t, path)).ToArray());
    }

    private static List<JsonElement> Items(JsonElement array, string path) =>
        array.ValueKind == JsonValueKind.Array && array.GetArrayLength() > 0
            ? array.EnumerateArray().ToList()
            : throw new GrammarException($"{path} must be a non-empty array of schemas");

    private static List<string> Types(JsonElement s, string path)
    {
        if (s.TryGetProperty("type", out var type))
        {
            var names = type.ValueKind switch
            {
                JsonValueKind.String => [type.GetString()!],
                JsonValueKind.Array => type.EnumerateArray().Select(t => t.GetString() ?? "").ToList(),
                _ => throw new GrammarException($"type at {path} must be a string or an array of strings"),
            };
            foreach (var n in names)
                if (n is not ("object" or "array" or "string" or "number" or "integer" or "boolean" or "null"))
                    throw new GrammarException($"unknown type '{n}' at {path}");
            return names;
        }
        if (s.TryGetProperty("properties", out _) || s.TryGetProperty("additionalProperties", out _)) return ["object"];
        if (s.TryGetProperty("items", out _) || s.TryGetProperty("prefixItems", out _)) return ["array"];
        return [];
    }

    private GrammarExpr Typed(JsonElement s, string type, string path) => type switch
    {
        "object" => Object(s, path),
        "array" => Array(s, path),
        "string" => String(s, path),
        "number" => JsonPieces.Number,
        "integer" => JsonPieces.Integer,
        "boolean" => JsonPieces.Boolean,
        _ => JsonPieces.Null,
    };

    private GrammarExpr Object(JsonElement s, string path)
    {
        if (s.TryGetProperty("properties", out var properties) && properties.ValueKind != JsonValueKind.Object)
            throw new GrammarException($"properties at {path} must be an object");
        if (properties.ValueKind != JsonValueKind.Object || !properties.EnumerateObject().Any())
        {
            bool closed = s.TryGetProperty("additionalProperties", out var extra) && extra.ValueKind == JsonValueKind.False;
            if (closed) return Literal("{}");
            JsonPieces.AddAnyValue(_rules);
            return new RuleRef(JsonPieces.ObjectRule);
        }
        var required = s.TryGetProperty("required", out var req) && req.ValueKind == JsonValueKind.Array
            ? req.EnumerateArray().Select(r => r.GetString()).ToHashSet()
            : [];
        var members = properties.EnumerateObject()
            .Select(p => (Expr: Seq(Literal(JsonSerializer.Serialize(p.Name)), JsonPieces.Ws, Literal(":"), JsonPieces.Ws,
                Schema(p.Value, $"{path}/properties/{p.Name}")), Required: required.Contains(p.Name)))
            .ToList();
        foreach (var r in required)
            if (!properties.TryGetProperty(r!, out _)) throw new GrammarException($"required property '{r}' at {path} is not in properties");
        var comma = Seq(JsonPieces.Ws, Literal(","), JsonPieces.Ws);
        // rest[i]: members i.. after one has been written (each with its comma);
        // first[i]: members i.. when none has been written yet (the first has no comma).
        var rest = new GrammarExpr[members.Count + 1];
        var first = new GrammarExpr[members.Count + 1];
        rest[members.Count] = first[members.Count] = Empty;
        for (int i = members.Count - 1; i >= 0; i--)
        {
            var (member, isRequired) = members[i];
            var withComma = Seq(comma, member);
            rest[i] = Seq(isRequired ? withComma : Optional(withComma), rest[i + 1]);
            var startHere = Seq(member, rest[i + 1]);
            first[i] = isRequired ? startHere : Alt(startHere, first[i + 1]);
        }
        return Seq(Literal("{"), JsonPieces.Ws, first[0], JsonPieces.Ws, Literal("}"));
    }

    private GrammarExpr Array(JsonElement s, string path)
    {
        int min = IntKeyword(s, "minItems", path) ?? 0;
        int? max = IntKeyword(s, "maxItems", path);
        if (max < min) throw new GrammarException($"maxItems is below minItems at {path}");
        var prefix = s.TryGetProperty("prefixItems", out var p) ? Items(p, $"{path}/prefixItems").Select((x, i) => Schema(x, $"{path}/prefixItems/{i}")).ToList() : [];
        bool closed = s.TryGetProperty("items", out var itemsSchema) && itemsSchema.ValueKind == JsonValueKind.False;
        var item = s.TryGetProperty("items", out var items) && !closed ? Schema(items, $"{path}/items") : prefix.Count > 0 && closed ? null : Any();
        var comma = Seq(JsonPieces.Ws, Literal(","), JsonPieces.Ws);
        var elements = new List<GrammarExpr>();
        for (int i = 0; i < prefix.Count; i++) elements.Add(i == 0 ? prefix[i] : Seq(comma, prefix[i]));
        GrammarExpr body;
        if (prefix.Count > 0)
        {
            if (min > prefix.Count && item is null) throw new GrammarException($"minItems exceeds prefixItems at {path}");
            int extraMin = Math.Max(0, min - prefix.Count);
            int? extraMax = item is null ? 0 : max - prefix.Count;
            var tail = extraMax == 0 ? Empty : new RepeatExpr(Seq(comma, item!), extraMin, extraMax);
            body = Seq(Seq(elements.ToArray()), tail);
            if (min == 0) body = Optional(body);
        }
        else
        {
            if (max == 0) return Seq(Literal("["), JsonPieces.Ws, Literal("]"));
            var list = Seq(item!, new RepeatExpr(Seq(comma, item!), Math.Max(0, min - 1), max - 1));
            body = min == 0 ? Optional(list) : list;
        }
        return Seq(Literal("["), JsonPieces.Ws, body, JsonPieces.Ws, Literal("]"));
    }

    private static GrammarExpr String(JsonElement s, string path)
    {
        if (s.TryGetProperty("pattern", out var pattern))
            return JsonPieces.String(RegexGrammar.Expression(pattern.GetString() ?? ""));
        int min = IntKeyword(s, "minLength", path) ?? 0;
        int? max = IntKeyword(s, "maxLength", path);
        if (max < min) throw new GrammarException($"maxLength is below minLength at {path}");
        return JsonPieces.String(min, max);
    }

    private static int? IntKeyword(JsonElement s, string name, string path) =>
        !s.TryGetProperty(name, out var v) ? null
            : v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out int n) && n >= 0 ? n
            : throw new GrammarException($"{name} at {path} must be a non-negative integer");

    private GrammarExpr Any()
    {
        JsonPieces.AddAnyValue(_rules);
        return new RuleRef(JsonPieces.ValueRule);
    }

    private GrammarExpr Ref(string reference, string path)
    {
        if (_refRules.TryGetValue(reference, out var known)) return new RuleRef(known);
        if (!reference.StartsWith('#')) throw new GrammarException($"$ref '{reference}' at {path}: only local references (#...) are supported");
        var target = _root;
        foreach (var part in reference[1..].Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            var key = Uri.UnescapeDataString(part).Replace("~1", "/").Replace("~0", "~");
            if (target.ValueKind != JsonValueKind.Object || !target.TryGetProperty(key, out target))
                throw new GrammarException($"$ref '{reference}' at {path} points nowhere");
        }
        var name = $"ref{_refRules.Count}";
        _refRules[reference] = name;
        _rules[name] = Empty; // placeholder, so a recursive reference finds the rule
        _rules[name] = Schema(target, reference);
        return new RuleRef(name);
    }
}
