namespace LlmEngine.Tests.Chat;

/// <summary>for loops: the loop variable, filters, else, break and continue.</summary>
public class LoopTests
{
    [Fact]
    public void LoopExposesPositionAndLength() =>
        Assert.Equal(
            "1 0 3 2 True False 3|2 1 2 1 False False 3|3 2 1 0 False True 3|",
            Jinja.Render("{% for x in 'abc' %}{{ loop.index }} {{ loop.index0 }} {{ loop.revindex }} {{ loop.revindex0 }} {{ loop.first }} {{ loop.last }} {{ loop.length }}|{% endfor %}"));

    [Fact]
    public void PrevitemAndNextitemAreUndefinedAtTheEnds() =>
        Assert.Equal("[-b][a-c][b-]", Jinja.Render("{% for x in 'abc' %}[{{ loop.previtem }}-{{ loop.nextitem }}]{% endfor %}"));

    [Fact]
    public void LoopFilterCountsOnlyKeptItems() =>
        Assert.Equal(
            "1/2 user;2/2 user;",
            Jinja.RenderMessages("{% for m in messages if m.role != 'system' %}{{ loop.index }}/{{ loop.length }} {{ m.role }};{% endfor %}",
                ("system", "s"), ("user", "a"), ("user", "b")));

    [Fact]
    public void ElseRunsWhenNothingIsIterated() =>
        Assert.Equal("empty", Jinja.Render("{% for x in [] %}x{% else %}empty{% endfor %}"));

    [Fact]
    public void BreakAndContinueControlTheLoop() =>
        Assert.Equal("0246", Jinja.Render("{% for x in range(10) %}{% if x is odd %}{% continue %}{% endif %}{% if x > 6 %}{% break %}{% endif %}{{ x }}{% endfor %}"));

    [Fact]
    public void TupleUnpackingOverDictItems() =>
        Assert.Equal("a=1;b=2;", Jinja.Render("{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}",
            ("d", new Dictionary<string, object?> { ["a"] = 1, ["b"] = 2 })));

    [Fact]
    public void LoopCycleRotatesThroughItsArguments() =>
        Assert.Equal("abca", Jinja.Render("{% for x in range(4) %}{{ loop.cycle('a', 'b', 'c') }}{% endfor %}"));
}
