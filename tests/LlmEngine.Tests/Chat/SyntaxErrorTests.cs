using LlmEngine.Host.Chat;

namespace LlmEngine.Tests.Chat;

/// <summary>Parse errors carry Jinja's message and the template line.</summary>
public class SyntaxErrorTests
{
    private static ChatTemplateException ParseFails(string source) =>
        Assert.Throws<ChatTemplateException>(() => ChatTemplate.Parse(source));

    [Fact]
    public void UnclosedBlockNamesTheTagsItWanted()
    {
        var error = ParseFails("line 1\n{% if x %}\nabc");
        Assert.Equal(2 + 1, error.Line);
        Assert.Equal("Unexpected end of template. Jinja was looking for the following tags: 'elif' or 'else' or 'endif'."
            + " The innermost block that needs to be closed is 'if'. (line 3)", error.Message);
    }

    [Fact]
    public void StrayEndTagIsAnUnknownTag() =>
        Assert.Equal("Encountered unknown tag 'endfor'. (line 3)", ParseFails("a\n\n{% endfor %}").Message);

    [Fact]
    public void BadExpressionReportsTheTokenFound() =>
        Assert.Equal("unexpected 'end of print statement' (line 2)", ParseFails("ok\n{{ x + }}").Message);

    [Fact]
    public void UnterminatedCommentIsReported() =>
        Assert.Equal(2, ParseFails("a\n{# never closed").Line);

    [Fact]
    public void MismatchedBracketIsReported() =>
        Assert.Equal("unexpected '}', expected ')' (line 1)", ParseFails("{{ (1 }}").Message);

    [Fact]
    public void BreakOutsideALoopIsRejected() =>
        Assert.Equal("'break' outside loop (line 1)", ParseFails("{% break %}").Message);

    [Fact]
    public void UnsupportedTagsAreRejected() =>
        Assert.StartsWith("Encountered unknown tag 'include'.", ParseFails("{% include 'other.jinja' %}").Message);
}
