using LlmEngine.Kernels.Structured;

namespace LlmEngine.Tests.Structured;

/// <summary>The mask built from per-state token tables (context-independent tokens decided once,
/// only boundary-crossing tokens checked against the stack) equals the brute-force answer: a
/// token is allowed exactly when advancing by its bytes leaves a live state.</summary>
public sealed class TokenMaskTests
{
    public static TheoryData<string, string> Specs => new()
    {
        { "json_schema", """{"type":"object","properties":{"name":{"type":"string"},"tags":{"type":"array","items":{"enum":["a","b"]}},"age":{"type":"integer"}},"required":["name","tags"]}""" },
        { "json_schema", """{"$defs":{"node":{"type":"object","properties":{"v":{"type":"number"},"next":{"anyOf":[{"$ref":"#/$defs/node"},{"type":"null"}]}},"required":["v","next"]}},"$ref":"#/$defs/node"}""" },
        { "json", "" },
        { "regex", "(ab|a1)+[0-9]{2,3}(x\"|yes)?" },
        { "grammar", "root ::= \"[\" item (\",\" item)* \"]\"\nitem ::= [0-9]+ | \"\\\"\" [a-z]* \"\\\"\" | root" },
        { "choice", """["foo","foobar","bar","日本"]""" },
    };

    [Theory]
    [MemberData(nameof(Specs))]
    public void MaskEqualsBruteForceAlongRandomWalks(string kind, string source)
    {
        var guide = Guides.Compile(Spec(kind, source));
        var random = new Random(7);
        for (int walk = 0; walk < 12; walk++)
            Guides.Walk(guide, random, 60, state =>
            {
                var mask = guide.Mask(state);
                for (int t = 0; t < guide.Vocabulary.Size; t++)
                {
                    bool expected = t == Guides.Eos ? state.CanEnd : !guide.Advance(state, t).IsDead;
                    Assert.True(expected == ((mask[t >> 6] >> (t & 63) & 1) != 0), $"token {t} ({System.Text.Encoding.UTF8.GetString(guide.Vocabulary.Bytes[t])}) expected {expected}");
                }
            });
    }

    [Fact]
    public void CompleteStateAllowsOnlyTheEndToken()
    {
        var guide = Guides.Compile(new GuideSpec(GuideKind.Regex, "ab"));
        var state = guide.Advance(guide.Initial, "ab"u8);
        Assert.True(state.IsComplete);
        Assert.Equal([Guides.Eos], Guides.Allowed(guide, state));
    }

    [Fact]
    public void EqualStatesAreOneObjectSoTheirMaskIsComputedOnce()
    {
        var guide = Guides.Compile(new GuideSpec(GuideKind.JsonSchema, """{"type":"object","properties":{"a":{"type":"string"}},"required":["a"]}"""));
        var one = guide.Advance(guide.Initial, "{\"a\":\"xy"u8);
        var other = guide.Advance(guide.Initial, "{\"a\":\"zzzz"u8);
        Assert.Same(one, other);
        Assert.Same(guide.Mask(one), guide.Mask(other));
    }

    public static GuideSpec Spec(string kind, string source) => kind switch
    {
        "json_schema" => new GuideSpec(GuideKind.JsonSchema, source),
        "json" => new GuideSpec(GuideKind.Json, ""),
        "regex" => new GuideSpec(GuideKind.Regex, source),
        "grammar" => new GuideSpec(GuideKind.Grammar, source),
        _ => GuideSpec.Choice(System.Text.Json.JsonSerializer.Deserialize<string[]>(source)!),
    };
}
