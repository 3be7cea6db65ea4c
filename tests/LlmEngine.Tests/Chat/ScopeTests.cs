namespace LlmEngine.Tests.Chat;

/// <summary>Jinja scoping: loop bodies and macros get their own frames; namespace() escapes them.</summary>
public class ScopeTests
{
    [Fact]
    public void SetInsideALoopDoesNotLeakOut() =>
        Assert.Equal("1|2|1", Jinja.Render("{% set x = 1 %}{% for i in [1] %}{{ x }}|{% set x = 2 %}{{ x }}|{% endfor %}{{ x }}"));

    [Fact]
    public void SetInsideALoopStartsFreshEachIteration() =>
        Assert.Equal("[a][]", Jinja.Render("{% for i in [1, 2] %}{% if i == 1 %}{% set y = 'a' %}{% endif %}[{{ y }}]{% endfor %}"));

    [Fact]
    public void NamespaceAttributesSurviveTheLoop() =>
        Assert.Equal("True 6", Jinja.Render(
            "{% set ns = namespace(found=false, total=0) %}{% for i in [1, 2, 3] %}{% if i == 2 %}{% set ns.found = true %}{% endif %}{% set ns.total = ns.total + i %}{% endfor %}{{ ns.found }} {{ ns.total }}"));

    [Fact]
    public void AssigningAnAttributeOfADictFails() =>
        Assert.Equal("cannot assign attribute on non-namespace object", Jinja.Fails("{% set d = {} %}{% set d.x = 1 %}").Message);

    [Fact]
    public void MacrosTakeDefaultsVarargsAndKeywords() =>
        Assert.Equal("11x(){}|12(3,){'k': 4}", Jinja.Render(
            "{% macro m(a, b=a ~ 'x') %}{{ a }}{{ b }}{{ varargs }}{{ kwargs }}{% endmacro %}{{ m(1) }}|{{ m(1, 2, 3, k=4) }}"));

    [Fact]
    public void MacrosCanRecurse() =>
        Assert.Equal("[1[2[3]]]", Jinja.Render(
            "{% macro nest(xs) %}[{{ xs[0] }}{% if xs | length > 1 %}{{ nest(xs[1:]) }}{% endif %}]{% endmacro %}{{ nest([1, 2, 3]) }}"));

    [Fact]
    public void RunawayMacroRecursionFailsInsteadOfOverflowingTheStack() =>
        Assert.Equal("maximum recursion depth exceeded", Jinja.Fails("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}").Message);

    [Fact]
    public void CallBlocksPassTheirBodyAsCaller() =>
        Assert.Equal("<x:(1)(2)>", Jinja.Render(
            "{% macro wrap(t, xs) %}<{{ t }}:{% for x in xs %}{{ caller(x) }}{% endfor %}>{% endmacro %}{% call(i) wrap('x', [1, 2]) %}({{ i }}){% endcall %}"));
}
