namespace LlmEngine.Tests.Structured;

/// <summary>Twenty JSON Schemas in OpenAI strict-mode style (and a few of its relatives): nested
/// objects, enums, arrays, anyOf, $defs / $ref (recursive too), type lists, const, bounds.</summary>
public static class TestSchemas
{
    public static readonly string[] All =
    [
        """{"type":"object","properties":{"name":{"type":"string","maxLength":20},"age":{"type":"integer"}},"required":["name","age"],"additionalProperties":false}""",
        """{"type":"object","properties":{"colour":{"type":"string","enum":["red","green","blue"]},"ok":{"type":"boolean"}},"required":["colour","ok"],"additionalProperties":false}""",
        """{"type":"object","properties":{"tags":{"type":"array","items":{"type":"string","maxLength":8},"maxItems":4}},"required":["tags"],"additionalProperties":false}""",
        """{"type":"object","properties":{"point":{"type":"object","properties":{"x":{"type":"number"},"y":{"type":"number"}},"required":["x","y"],"additionalProperties":false}},"required":["point"],"additionalProperties":false}""",
        """{"type":"object","properties":{"value":{"anyOf":[{"type":"integer"},{"type":"string","maxLength":10},{"type":"null"}]}},"required":["value"],"additionalProperties":false}""",
        """{"$defs":{"person":{"type":"object","properties":{"first":{"type":"string","maxLength":12},"last":{"type":"string","maxLength":12}},"required":["first","last"],"additionalProperties":false}},"type":"object","properties":{"author":{"$ref":"#/$defs/person"},"editor":{"$ref":"#/$defs/person"}},"required":["author","editor"],"additionalProperties":false}""",
        """{"$defs":{"node":{"type":"object","properties":{"value":{"type":"integer"},"next":{"anyOf":[{"$ref":"#/$defs/node"},{"type":"null"}]}},"required":["value","next"],"additionalProperties":false}},"$ref":"#/$defs/node"}""",
        """{"type":"array","items":{"type":"integer"},"minItems":2,"maxItems":5}""",
        """{"type":"object","properties":{"status":{"const":"done"},"count":{"type":"integer"}},"required":["status","count"],"additionalProperties":false}""",
        """{"type":"object","properties":{"note":{"type":["string","null"],"maxLength":15},"score":{"type":["number","null"]}},"required":["note","score"],"additionalProperties":false}""",
        """{"type":"object","properties":{"title":{"type":"string","minLength":3,"maxLength":10},"pages":{"type":"integer"},"subtitle":{"type":"string","maxLength":10}},"required":["title"]}""",
        """{"type":"object","properties":{"items":{"type":"array","items":{"type":"object","properties":{"id":{"type":"integer"},"done":{"type":"boolean"}},"required":["id","done"],"additionalProperties":false},"minItems":1,"maxItems":3}},"required":["items"],"additionalProperties":false}""",
        """{"type":"object","properties":{"shape":{"anyOf":[{"type":"object","properties":{"kind":{"const":"circle"},"r":{"type":"number"}},"required":["kind","r"],"additionalProperties":false},{"type":"object","properties":{"kind":{"const":"square"},"side":{"type":"number"}},"required":["kind","side"],"additionalProperties":false}]}},"required":["shape"],"additionalProperties":false}""",
        """{"type":"string","enum":["yes","no","maybe"]}""",
        """{"type":"object","properties":{"a":{"type":"object","properties":{"b":{"type":"object","properties":{"c":{"type":"object","properties":{"d":{"type":"integer"}},"required":["d"],"additionalProperties":false}},"required":["c"],"additionalProperties":false}},"required":["b"],"additionalProperties":false}},"required":["a"],"additionalProperties":false}""",
        """{"type":"object","properties":{"matrix":{"type":"array","items":{"type":"array","items":{"type":"integer"},"minItems":2,"maxItems":2},"minItems":2,"maxItems":2}},"required":["matrix"],"additionalProperties":false}""",
        """{"type":"object","properties":{"level":{"type":"integer","enum":[1,2,3]},"flags":{"type":"array","items":{"type":"boolean"},"maxItems":3}},"required":["level","flags"],"additionalProperties":false}""",
        """{"$schema":"http://json-schema.org/draft-07/schema#","definitions":{"leaf":{"type":"integer"},"pair":{"type":"array","items":{"$ref":"#/definitions/leaf"},"minItems":2,"maxItems":2}},"anyOf":[{"$ref":"#/definitions/leaf"},{"$ref":"#/definitions/pair"}]}""",
        """{"type":"object","properties":{"code":{"type":"string","pattern":"[A-Z]{3}-[0-9]{2}"},"price":{"type":"number"}},"required":["code","price"],"additionalProperties":false}""",
        """{"type":"object","properties":{"meta":{"type":"object","properties":{"lang":{"type":"string","enum":["en","fr","de"]},"words":{"type":"integer"}},"required":["lang","words"],"additionalProperties":false},"body":{"type":"string","maxLength":30},"empty":{"type":"null"}},"required":["meta","body","empty"],"additionalProperties":false}""",
    ];
}
