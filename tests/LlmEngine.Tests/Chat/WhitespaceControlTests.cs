namespace LlmEngine.Tests.Chat;

/// <summary>trim_blocks, lstrip_blocks and '-'/'+' markers, as HF's environment applies them.</summary>
public class WhitespaceControlTests
{
    [Fact]
    public void TrimBlocksRemovesTheNewlineAfterABlockTag() =>
        Assert.Equal("A\nB", Jinja.Render("{% if true %}\nA\n{% endif %}\nB"));

    [Fact]
    public void TrimBlocksRemovesOnlyOneNewline() =>
        Assert.Equal("\nA", Jinja.Render("{% if true %}\n\nA{% endif %}"));

    [Fact]
    public void TrimBlocksDoesNotApplyToExpressions() =>
        Assert.Equal("a\nb", Jinja.Render("{{ 'a' }}\nb"));

    [Fact]
    public void LstripBlocksRemovesIndentationBeforeABlockTag() =>
        Assert.Equal("x\n    y\nz", Jinja.Render("x\n    {% if true %}\n    y\n    {% endif %}\nz"));

    [Fact]
    public void LstripBlocksLeavesIndentationBeforeAnExpression() =>
        Assert.Equal("x\n    v", Jinja.Render("x\n    {{ 'v' }}\n"));

    [Fact]
    public void LstripBlocksOnlyStripsWhenTheTagStartsTheLine() =>
        Assert.Equal("a  b  c", Jinja.Render("a  {% if true %}b{% endif %}  c"));

    [Fact]
    public void LstripBlocksAppliesAtTheStartOfTheTemplate() =>
        Assert.Equal("b", Jinja.Render(" \t {% if true %}b{% endif %}"));

    [Fact]
    public void LstripAndTrimApplyToComments() =>
        Assert.Equal("a\nb", Jinja.Render("a\n  {# note #}\nb"));

    [Fact]
    public void MinusStripsAllWhitespaceIncludingNewlines() =>
        Assert.Equal("ab|c", Jinja.Render("a \n\t {%- if true -%} \n\n b {%- endif %}|\n {{- 'c' }}"));

    [Fact]
    public void PlusKeepsIndentationAndNewline() =>
        Assert.Equal("a\n    \nb", Jinja.Render("a\n    {%+ if true +%}\nb{% endif %}"));

    [Fact]
    public void OneTrailingNewlineOfTheTemplateIsDropped() =>
        Assert.Equal("abc\n", Jinja.Render("abc\n\n"));

    [Fact]
    public void WindowsNewlinesBecomeLineFeeds() =>
        Assert.Equal("a\nb\nc", Jinja.Render("a\r\nb\rc{% if true %}\r\n{% endif %}"));

    [Fact]
    public void RawBlocksAreNotInterpreted() =>
        Assert.Equal("{{ x }}{% if %}", Jinja.Render("{% raw %}{{ x }}{% if %}{% endraw %}"));

    [Fact]
    public void MultilineTemplateRendersOneLinePerMessage() =>
        Assert.Equal(
            "<|user|>\nHi</s>\n<|assistant|>\n",
            Jinja.RenderMessages(
                "{% for message in messages %}\n{% if message['role'] == 'user' %}\n{{ '<|user|>\\n' + message['content'] + '</s>' }}\n{% endif %}\n{% endfor %}\n{% if add_generation_prompt %}\n{{ '<|assistant|>' }}\n{% endif %}\n",
                ("user", "Hi")));
}
