using System.Text.RegularExpressions;
using LlmEngine.Kernels.Structured;

namespace LlmEngine.Tests.Structured;

/// <summary>A regex constraint accepts exactly the strings .NET's own engine matches in full
/// (in its ECMAScript mode: \w, \d and \s are ASCII classes, as in JavaScript).</summary>
public sealed class RegexGrammarTests
{
    private static readonly string[] Samples =
    [
        "", "a", "ab", "abab", "a1", "ab12", "ab123", "ab1234", "a112x\"", "ab99yes", "x", "2026-12-03", "12-03", "foo@bar.com",
        "foo@bar", "hello world", "Hello", "HELLO", "abc_123", " ", "\n", "é", "日本", "(1)", "[a]", "a.b", "a+b", "+1 555-0100",
    ];

    [Theory]
    [InlineData("(ab|a1)+[0-9]{2,3}(x\"|yes)?")]
    [InlineData(@"\d{4}-\d{2}-\d{2}")]
    [InlineData(@"[a-z]+@[a-z]+\.(com|org)")]
    [InlineData(@"[A-Z][a-z]*( [a-z]+)*")]
    [InlineData(@"\w+")]
    [InlineData(@"[^a-z]+")]
    [InlineData(@"(?:a|b)*c?")]
    [InlineData(@"\(\d\)|\[a\]|a\.b|a\+b")]
    [InlineData(@"^\+?\d{1,3} \d{3}-\d{4}$")]
    [InlineData(@".{2}")]
    [InlineData(@"[éñ日]+本?")]
    public void AcceptsWhatDotnetRegexMatches(string pattern)
    {
        var guide = Guides.Compile(new GuideSpec(GuideKind.Regex, pattern));
        var reference = new Regex($@"^(?:{pattern.TrimStart('^').TrimEnd('$')})\z", RegexOptions.ECMAScript);
        foreach (var s in Samples)
            Assert.True(reference.IsMatch(s) == Guides.Accepts(guide, s), $"'{s}' against {pattern}");
    }

    [Theory]
    [InlineData("(ab", "expected ')'")]
    [InlineData("ab)", "unbalanced ')'")]
    [InlineData("*a", "nothing to repeat")]
    [InlineData(@"(a)\1", "backreferences")]
    [InlineData("(?=a)b", "lookaround")]
    [InlineData("[z-a]", "out of order")]
    [InlineData("a{3,1}", "out of order")]
    public void BadPatternsAreRefusedWithTheReason(string pattern, string reason)
    {
        var e = Assert.Throws<GrammarException>(() => RegexGrammar.Parse(pattern));
        Assert.Contains(reason, e.Message);
    }

    [Fact]
    public void WalksThroughTheMaskEndInAMatch()
    {
        const string pattern = @"[a-z]{1,8}@(foo|bar)\.(com|org)";
        var guide = Guides.Compile(new GuideSpec(GuideKind.Regex, pattern));
        var random = new Random(3);
        for (int i = 0; i < 50; i++)
        {
            var (text, ended) = Guides.Walk(guide, random);
            Assert.True(ended);
            Assert.Matches($"^{pattern}$", text);
        }
    }
}
