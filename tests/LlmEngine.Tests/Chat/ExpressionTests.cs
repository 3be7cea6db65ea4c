namespace LlmEngine.Tests.Chat;

/// <summary>Expressions evaluate with Python semantics and print with Python's str().</summary>
public class ExpressionTests
{
    [Theory]
    [InlineData("{{ 'abcdef'[1:3] }}", "bc")]
    [InlineData("{{ 'abcdef'[::-1] }}", "fedcba")]
    [InlineData("{{ [1, 2, 3, 4][::2] }}", "[1, 3]")]
    [InlineData("{{ [1, 2, 3][-5:10] }}", "[1, 2, 3]")]
    [InlineData("{{ [1, 2, 3, 4, 5][4:0:-2] }}", "[5, 3]")]
    [InlineData("{{ 'abc'[-1] }}", "c")]
    public void SlicingFollowsPython(string template, string expected) => Assert.Equal(expected, Jinja.Render(template));

    [Theory]
    [InlineData("{{ 7 // 2 }} {{ -7 // 2 }} {{ -7 % 3 }}", "3 -4 2")]
    [InlineData("{{ 7 / 2 }} {{ 10 / 2 }}", "3.5 5.0")]
    [InlineData("{{ 2 ** 3 ** 2 }}", "64")]
    [InlineData("{{ 1e16 }} {{ 1e15 }} {{ 0.00001 }} {{ 0.1 + 0.2 }}", "1e+16 1000000000000000.0 1e-05 0.30000000000000004")]
    [InlineData("{{ 1 < 2 < 3 }} {{ 1 == 1.0 }} {{ 'b' in 'abc' }} {{ 3 not in [1] }}", "True True True True")]
    [InlineData("{{ 0 or 'x' }}|{{ '' and 'y' }}", "x|")]
    [InlineData("{{ 'a' ~ 1 ~ none ~ true }}", "a1NoneTrue")]
    public void OperatorsFollowPython(string template, string expected) => Assert.Equal(expected, Jinja.Render(template));

    [Fact]
    public void ValuesPrintLikePythonStr() =>
        Assert.Equal("None True [1, 'a', None] {'k': (1, 2)} [\"it's\"]", Jinja.Render("{{ none }} {{ true }} {{ [1, 'a', none] }} {{ {'k': (1, 2)} }} {{ [\"it's\"] }}"));

    [Fact]
    public void StringMethodsAreAvailable() =>
        Assert.Equal("a|['x', 'y']|True|Answer", Jinja.Render("{{ '  a '.strip() }}|{{ 'x,y'.split(',') }}|{{ 'abc'.startswith('a') }}|{{ c.split('</think>')[-1].strip() }}",
            ("c", "<think>hm</think>\nAnswer")));

    [Fact]
    public void DotFallsBackToKeysAndSubscriptFallsBackToAttributes() =>
        Assert.Equal("user|v|['role']", Jinja.Render("{{ m.role }}|{{ m.get('x', 'v') }}|{{ m['keys']() | list }}",
            ("m", new Dictionary<string, object?> { ["role"] = "user" })));

    [Fact]
    public void AddingStringAndNumberFailsAsInPython() =>
        Assert.Equal("can only concatenate str (not \"int\") to str", Jinja.Fails("{{ 'a' + 1 }}").Message);
}
