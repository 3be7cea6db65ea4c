using System.Text.Json;
using Json.Schema;
using LlmEngine.Kernels.Structured;

namespace LlmEngine.Tests.Structured;

/// <summary>Every text a JSON Schema guide lets through validates against the schema
/// (JsonSchema.Net as the judge), what it must refuse it refuses, and what it cannot honour is a
/// clear error.</summary>
public sealed class JsonSchemaGrammarTests
{
    public static TheoryData<int> SchemaIndices => new(Enumerable.Range(0, TestSchemas.All.Length));

    [Theory]
    [MemberData(nameof(SchemaIndices))]
    public void RandomWalksThroughTheMaskValidate(int index)
    {
        var text = TestSchemas.All[index];
        var guide = Guides.Compile(new GuideSpec(GuideKind.JsonSchema, text));
        var schema = JsonSchema.FromText(text);
        var random = new Random(index);
        int ended = 0;
        for (int i = 0; i < 30; i++)
        {
            var (json, end) = Guides.Walk(guide, random, 3000);
            if (!end) continue;
            ended++;
            using var doc = JsonDocument.Parse(json);
            var result = schema.Evaluate(doc.RootElement);
            Assert.True(result.IsValid, $"{json} against {text}");
        }
        Assert.True(ended >= 20, $"only {ended} of 30 walks ended");
    }

    [Theory]
    [InlineData("""{"type":"object","properties":{"age":{"type":"integer"}},"required":["age"]}""", """{"age":"x"}""")]
    [InlineData("""{"type":"object","properties":{"age":{"type":"integer"}},"required":["age"]}""", """{}""")]
    [InlineData("""{"type":"object","properties":{"age":{"type":"integer"}},"required":["age"]}""", """{"age":1.5}""")]
    [InlineData("""{"enum":["a","b"]}""", "\"c\"")]
    [InlineData("""{"type":"array","items":{"type":"integer"},"maxItems":2}""", "[1,2,3]")]
    [InlineData("""{"type":"string","maxLength":3}""", "\"abcd\"")]
    [InlineData("""{"type":"object","properties":{"a":{"type":"integer"}},"additionalProperties":false}""", """{"b":1}""")]
    public void RefusesWhatTheSchemaForbids(string schema, string json)
    {
        var guide = Guides.Compile(new GuideSpec(GuideKind.JsonSchema, schema));
        Assert.False(Guides.Accepts(guide, json));
    }

    [Theory]
    [InlineData("""{"type":"object","properties":{"a":{"type":"integer"},"b":{"type":"string"}},"required":["b"]}""", """{"b":"x"}""")]
    [InlineData("""{"type":"object","properties":{"a":{"type":"integer"},"b":{"type":"string"}},"required":["b"]}""", """{"a":1,"b":"x"}""")]
    [InlineData("""{"type":"object","properties":{"a":{"type":"integer"}}}""", """{}""")]
    [InlineData("""{"type":"object","properties":{"a":{"type":"integer"}}}""", "{ \"a\" : -12 }")]
    [InlineData("""{}""", """{"any":[1,"two",{"three":null}],"x":true}""")]
    [InlineData("""{"type":"number"}""", "-0.25e+10")]
    [InlineData("""{"type":"string"}""", "\"tab\\t quote\\\" \\u00e9 é\"")]
    public void AcceptsWhatTheSchemaAllows(string schema, string json)
    {
        var guide = Guides.Compile(new GuideSpec(GuideKind.JsonSchema, schema));
        Assert.True(Guides.Accepts(guide, json));
    }

    [Theory]
    [InlineData("""{"type":"integr"}""", "unknown type 'integr'")]
    [InlineData("""{"$ref":"#/$defs/missing"}""", "points nowhere")]
    [InlineData("""{"$ref":"http://example.com/s.json"}""", "only local references")]
    [InlineData("""{"allOf":[{"type":"string"},{"maxLength":2}]}""", "allOf")]
    [InlineData("""{"type":"string","maxLength":-1}""", "maxLength")]
    [InlineData("""{"type":"object","properties":{"a":{}},"required":["b"]}""", "required property 'b'")]
    [InlineData("""{"type":""", "not valid JSON")]
    [InlineData("""{"properties":"inf"}""", "properties at # must be an object")]
    [InlineData("""{"type":"object","properties":{"a":{}},"required":[1]}""", "wrong type")]
    [InlineData("""{"type":["string",2]}""", "wrong type")]
    [InlineData("""{"$ref":7}""", "wrong type")]
    public void UnsupportedOrBrokenSchemasAreRefusedWithTheReason(string schema, string reason)
    {
        var e = Assert.Throws<GrammarException>(() => GrammarAutomaton.Compile(JsonSchemaGrammar.Parse(schema)));
        Assert.Contains(reason, e.Message);
    }
}
