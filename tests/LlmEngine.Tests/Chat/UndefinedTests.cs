namespace LlmEngine.Tests.Chat;

/// <summary>Jinja's default Undefined: lenient when printed or tested, strict when dereferenced.</summary>
public class UndefinedTests
{
    [Fact]
    public void RendersEmptyAndIsFalsy() =>
        Assert.Equal("[]f0", Jinja.Render("[{{ missing }}]{% if missing %}t{% else %}f{% endif %}{{ missing | length }}"));

    [Fact]
    public void IteratesAsEmpty() =>
        Assert.Equal("none", Jinja.Render("{% for x in missing %}x{% else %}none{% endfor %}"));

    [Fact]
    public void MissingKeyIsUndefinedNotAnError() =>
        Assert.Equal("False|True", Jinja.Render("{{ m.tool_calls is defined }}|{{ m['x'] is undefined }}", ("m", new Dictionary<string, object?>())));

    [Fact]
    public void AttributeOfUndefinedFails() =>
        Assert.Equal("'missing' is undefined", Jinja.Fails("{{ missing.attr }}").Message);

    [Fact]
    public void AttributeOfMissingKeyNamesTheOwner() =>
        Assert.Equal("'dict object' has no attribute 'a'", Jinja.Fails("{{ m.a.b }}", ("m", new Dictionary<string, object?>())).Message);

    [Fact]
    public void ArithmeticOnUndefinedFails() =>
        Assert.Equal("'missing' is undefined", Jinja.Fails("{{ missing + 1 }}").Message);

    [Fact]
    public void UndefinedEqualsOnlyUndefined() =>
        Assert.Equal("TrueFalse", Jinja.Render("{{ missing == other }}{{ missing == none }}"));

    [Fact]
    public void NoneIsDefined() =>
        Assert.Equal("True|None", Jinja.Render("{{ tools is defined }}|{{ tools }}", ("tools", null)));
}
