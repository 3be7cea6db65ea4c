using System.Text;
using System.Text.Json;

namespace LlmEngine.Host.Bench;

/// <summary>One fuzzed HTTP request: its method, path and body (null for none).</summary>
internal sealed record FuzzRequest(HttpMethod Method, string Path, byte[]? Body)
{
    /// <summary>A short description for a report: method, path and the body's first 200 characters.</summary>
    public string Describe() =>
        $"{Method} {Path} {(Body is null ? "" : ApiText(Body))}";

    private static string ApiText(byte[] body)
    {
        var text = Encoding.UTF8.GetString(body);
        return text.Length <= 200 ? text : text[..200] + $"... ({body.Length} bytes)";
    }
}

/// <summary>
/// Seeded random requests over every endpoint and every field the server reads, as an attacker or
/// a careless client would send them: fields left out or set to a value of any kind (the wrong type,
/// huge, negative, non-finite, empty, long, non-ASCII, nested), unknown fields, bodies that are not
/// JSON or not UTF-8, wrong methods and unknown paths. Generation is kept short (max_tokens is
/// always given, mostly small), so a few thousand requests take seconds on a small model.
/// The same seed gives the same requests.
/// </summary>
internal sealed class RequestFuzzer(int seed)
{
    private static readonly string[] CompletionFields =
    [
        "model", "prompt", "n", "temperature", "top_p", "top_k", "min_p", "seed", "stop", "stop_token_ids", "stream",
        "stream_options", "logprobs", "echo", "ignore_eos", "min_tokens", "presence_penalty", "frequency_penalty",
        "repetition_penalty", "use_beam_search", "length_penalty", "early_stopping", "include_stop_str_in_output",
        "skip_special_tokens", "user", "suffix", "response_format", "guided_json", "guided_regex", "guided_choice",
        "guided_grammar", "structured_outputs", "timeout", "best_of", "logit_bias", "prompt_logprobs",
    ];
    private static readonly string[] ChatFields =
    [
        "model", "messages", "n", "temperature", "top_p", "top_k", "seed", "stop", "stream", "stream_options", "logprobs",
        "top_logprobs", "ignore_eos", "presence_penalty", "response_format", "tools", "tool_choice", "chat_template_kwargs",
        "add_generation_prompt", "use_beam_search", "structured_outputs", "guided_json", "guided_choice", "timeout", "user",
    ];
    private static readonly string[] TokenizeFields = ["model", "prompt", "messages", "add_special_tokens", "return_token_strs"];
    private static readonly string[] DetokenizeFields = ["model", "tokens"];

    private static readonly string[] Gets = ["/v1/models", "/health", "/version", "/metrics", "/nothing/here", "/v1/completions"];

    private readonly Random _random = new(seed);

    public FuzzRequest Next()
    {
        int pick = _random.Next(100);
        if (pick < 8) return new FuzzRequest(HttpMethod.Get, Gets[_random.Next(Gets.Length)], null);
        var (path, fields) = pick switch
        {
            < 45 => ("/v1/completions", CompletionFields),
            < 80 => ("/v1/chat/completions", ChatFields),
            < 92 => ("/tokenize", TokenizeFields),
            _ => ("/detokenize", DetokenizeFields),
        };
        return new FuzzRequest(HttpMethod.Post, path, Body(path, fields));
    }

    private byte[] Body(string path, string[] fields)
    {
        int shape = _random.Next(100);
        if (shape < 3) return RandomBytes(_random.Next(0, 64));
        if (shape < 5) return Encoding.UTF8.GetBytes(new string('[', _random.Next(10, 2000)));
        var json = Object(path, fields);
        if (shape < 9) return json[.._random.Next(json.Length)]; // cut short
        if (shape < 11)
        {
            // A byte that is not UTF-8 inside a string.
            var text = Encoding.UTF8.GetBytes("{\"prompt\":\"ab\",\"messages\":[{\"role\":\"user\",\"content\":\"ab\"}],\"max_tokens\":2}");
            text[12] = (byte)(0x80 + _random.Next(0x80));
            return text;
        }
        return json;
    }

    private byte[] Object(string path, string[] fields)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { SkipValidation = true }))
        {
            w.WriteStartObject();
            bool generates = path is "/v1/completions" or "/v1/chat/completions";
            // The prompt or messages are mostly well formed, so that the other fields get looked at.
            if (path is "/v1/completions" or "/tokenize" && _random.Next(4) > 0) { w.WritePropertyName("prompt"); Prompt(w); }
            if (path is "/v1/chat/completions" && _random.Next(4) > 0) { w.WritePropertyName("messages"); Messages(w); }
            if (path is "/detokenize" && _random.Next(4) > 0) { w.WritePropertyName("tokens"); TokenIds(w); }
            if (generates)
            {
                w.WritePropertyName(path == "/v1/chat/completions" && _random.Next(2) == 0 ? "max_completion_tokens" : "max_tokens");
                if (_random.Next(10) == 0) Value(w, 0); else w.WriteNumberValue(_random.Next(1, 12));
            }
            int count = _random.Next(0, 6);
            for (int i = 0; i < count; i++)
            {
                w.WritePropertyName(_random.Next(20) == 0 ? RandomText(8) : fields[_random.Next(fields.Length)]);
                Value(w, 0);
            }
            w.WriteEndObject();
        }
        return buffer.ToArray();
    }

    private void Prompt(Utf8JsonWriter w)
    {
        switch (_random.Next(5))
        {
            case 0: TokenIds(w); break;
            case 1:
                w.WriteStartArray();
                for (int i = _random.Next(1, 4); i > 0; i--) w.WriteStringValue(Text());
                w.WriteEndArray();
                break;
            default: w.WriteStringValue(Text()); break;
        }
    }

    private void Messages(Utf8JsonWriter w)
    {
        string[] roles = ["system", "user", "assistant", "tool", "developer", "nobody"];
        w.WriteStartArray();
        for (int i = _random.Next(1, 4); i > 0; i--)
        {
            w.WriteStartObject();
            w.WriteString("role", roles[_random.Next(roles.Length)]);
            w.WritePropertyName("content");
            if (_random.Next(6) == 0) Value(w, 1); else w.WriteStringValue(Text());
            w.WriteEndObject();
        }
        w.WriteEndArray();
    }

    private void TokenIds(Utf8JsonWriter w)
    {
        w.WriteStartArray();
        for (int i = _random.Next(1, 12); i > 0; i--)
            w.WriteNumberValue(_random.Next(20) == 0 ? _random.Next(-5, int.MaxValue) : _random.Next(3, 500));
        w.WriteEndArray();
    }

    private string Text() => _random.Next(6) switch
    {
        0 => "",
        1 => "Héllo 😀 <s></s><|im_start|> \t\n",
        2 => RandomText(_random.Next(1, 40)),
        _ => "Once upon a time " + _random.Next(1000),
    };

    /// <summary>Any JSON value: those a field expects and those it does not.</summary>
    private void Value(Utf8JsonWriter w, int depth)
    {
        switch (_random.Next(depth > 2 ? 20 : 26))
        {
            case 0: w.WriteNullValue(); break;
            case 1: w.WriteBooleanValue(true); break;
            case 2: w.WriteBooleanValue(false); break;
            case 3: w.WriteNumberValue(0); break;
            case 4: w.WriteNumberValue(1); break;
            case 5: w.WriteNumberValue(-1); break;
            case 6: w.WriteNumberValue(_random.Next(2, 20)); break;
            case 7: w.WriteNumberValue(_random.NextDouble()); break;
            case 8: w.WriteRawValue(new[] { "1e-39", "5e-324", "1e308", "-1e308", "1e400", "-0", "2147483647", "2147483648", "9223372036854775807", "1.5" }[_random.Next(10)], skipInputValidation: true); break;
            case 9: w.WriteNumberValue(_random.Next(-1000, 1000)); break;
            case 10: w.WriteStringValue(""); break;
            case 11: w.WriteStringValue(Text()); break;
            case 12: w.WriteStringValue(new string('x', _random.Next(1000, 20000))); break;
            case 13: w.WriteStringValue(new[] { "auto", "none", "required", "json_object", "text", "never", "true", "nan", "inf" }[_random.Next(9)]); break;
            case 14: w.WriteStringValue(new[] { "[a-z]+", "(a|b)*c", "yes|no", "root ::= \"a\"", "{\"type\":\"object\"}", "((((", "\\" }[_random.Next(7)]); break;
            case 15: TokenIds(w); break;
            case 16: w.WriteStartArray(); w.WriteEndArray(); break;
            case 17: w.WriteStartObject(); w.WriteEndObject(); break;
            case 18: Schema(w); break;
            case 19: w.WriteStringValue(RandomText(_random.Next(1, 10))); break;
            default:
                if (_random.Next(2) == 0)
                {
                    w.WriteStartArray();
                    for (int i = _random.Next(0, 4); i > 0; i--) Value(w, depth + 1);
                    w.WriteEndArray();
                }
                else
                {
                    w.WriteStartObject();
                    string[] keys = ["type", "json_schema", "schema", "name", "function", "include_usage", "choice", "regex", "json", "properties", "enum", "strict"];
                    for (int i = _random.Next(0, 4); i > 0; i--)
                    {
                        w.WritePropertyName(keys[_random.Next(keys.Length)]);
                        Value(w, depth + 1);
                    }
                    w.WriteEndObject();
                }
                break;
        }
    }

    private void Schema(Utf8JsonWriter w)
    {
        string[] schemas =
        [
            """{"type":"json_object"}""",
            """{"type":"json_schema","json_schema":{"name":"x","schema":{"type":"object","properties":{"a":{"type":"integer"}}}}}""",
            """{"type":"json_schema","json_schema":{"name":"x","schema":{"type":"array","items":{"$ref":"#"}}}}""",
            """{"type":"object","properties":{"a":{"type":"string","pattern":"(a+)+$"}},"required":["a"]}""",
            """{"choice":["yes","no"]}""",
            """{"regex":"[0-9]{1,3}"}""",
            """[{"type":"function","function":{"name":"f","parameters":{"type":"object"}}}]""",
        ];
        w.WriteRawValue(schemas[_random.Next(schemas.Length)], skipInputValidation: true);
    }

    private string RandomText(int length)
    {
        var sb = new StringBuilder(length);
        for (int i = 0; i < length; i++)
        {
            int c = _random.Next(10) == 0 ? _random.Next(0x80, 0xD7FF) : _random.Next(0x20, 0x7F);
            sb.Append((char)c);
        }
        return sb.ToString();
    }

    private byte[] RandomBytes(int length)
    {
        var bytes = new byte[length];
        _random.NextBytes(bytes);
        return bytes;
    }
}
