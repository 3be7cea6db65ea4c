namespace LlmEngine.Tests.Chat;

/// <summary>tojson must match Python's json.dumps(ensure_ascii=False) byte for byte.</summary>
public class ToJsonTests
{
    private static readonly Dictionary<string, object?> Tool = new()
    {
        ["name"] = "get_weather",
        ["parameters"] = new Dictionary<string, object?> { ["city"] = "Zürich", ["days"] = 3, ["ratio"] = 0.5, ["tags"] = new List<object?>() },
    };

    [Fact]
    public void CompactUsesPythonSeparatorsAndKeepsNonAscii() =>
        Assert.Equal("{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Zürich\", \"days\": 3, \"ratio\": 0.5, \"tags\": []}}",
            Jinja.Render("{{ t | tojson }}", ("t", Tool)));

    [Fact]
    public void IndentPutsItemsOnLinesAndDropsTrailingSpaces() =>
        Assert.Equal("{\n  \"a\": [\n    1,\n    null\n  ],\n  \"b\": {}\n}", Jinja.Render("{{ {'a': [1, none], 'b': {}} | tojson(indent=2) }}"));

    [Fact]
    public void EscapesControlCharactersQuotesAndBackslashes() =>
        Assert.Equal("\"q\\\"\\\\\\n\\t\\u0001é\"", Jinja.Render("{{ s | tojson }}", ("s", "q\"\\\n\t\u0001é")));

    [Fact]
    public void FloatsPrintAsPythonRepr() =>
        Assert.Equal("[1.0, 1e+20, 1e-07, 0.1, 3]", Jinja.Render("{{ [1.0, 1e20, 1e-7, 0.1, 3] | tojson }}"));

    [Fact]
    public void SeparatorsAndSortKeysAreHonoured() =>
        Assert.Equal("{\"a\":1,\"b\":[1,2]}", Jinja.Render("{{ {'b': [1, 2], 'a': 1} | tojson(separators=(',', ':'), sort_keys=true) }}"));

    [Fact]
    public void EnsureAsciiEscapesAsUtf16() =>
        Assert.Equal("\"\\u00e9\\ud83d\\ude00\"", Jinja.Render("{{ 'é😀' | tojson(ensure_ascii=true) }}"));

    [Fact]
    public void UndefinedIsNotSerializable() =>
        Assert.Equal("Object of type Undefined is not JSON serializable", Jinja.Fails("{{ missing | tojson }}").Message);
}
