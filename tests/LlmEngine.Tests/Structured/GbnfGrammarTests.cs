using LlmEngine.Kernels.Structured;

namespace LlmEngine.Tests.Structured;

/// <summary>GBNF grammars (llama.cpp's syntax): rules, literals, classes, groups, quantifiers,
/// recursion; errors name the problem.</summary>
public sealed class GbnfGrammarTests
{
    private const string Arithmetic = """
        # arithmetic over small integers
        root   ::= expr
        expr   ::= term (("+" | "-") term)*
        term   ::= factor ("*" factor)*
        factor ::= [0-9]{1,3} | "(" expr ")"
        """;

    [Theory]
    [InlineData("1", true)]
    [InlineData("1+2*3", true)]
    [InlineData("(1+2)*(3-45)", true)]
    [InlineData("((7))", true)]
    [InlineData("1+", false)]
    [InlineData("(1", false)]
    [InlineData("1234", false)]
    [InlineData("a", false)]
    public void ArithmeticGrammarAcceptsExpressionsOnly(string text, bool accepted)
    {
        var guide = Guides.Compile(new GuideSpec(GuideKind.Grammar, Arithmetic));
        Assert.Equal(accepted, Guides.Accepts(guide, text));
    }

    [Fact]
    public void WalksProduceBalancedExpressions()
    {
        var guide = Guides.Compile(new GuideSpec(GuideKind.Grammar, Arithmetic));
        var random = new Random(11);
        for (int i = 0; i < 40; i++)
        {
            var (text, ended) = Guides.Walk(guide, random, 2000);
            if (!ended) continue;
            Assert.Equal(text.Count(c => c == '('), text.Count(c => c == ')'));
            Assert.True(Guides.Accepts(guide, text));
        }
    }

    [Theory]
    [InlineData("root ::= root \"a\" | \"b\"", "left-recursive")]
    [InlineData("root ::= item", "undefined rule 'item'")]
    [InlineData("item ::= \"a\"", "no 'root' rule")]
    [InlineData("root ::= \"a", "unterminated string")]
    [InlineData("root \"a\"", "expected '::='")]
    public void BadGrammarsAreRefusedWithTheReason(string source, string reason)
    {
        var e = Assert.Throws<GrammarException>(() => GrammarAutomaton.Compile(GbnfGrammar.Parse(source)));
        Assert.Contains(reason, e.Message);
    }
}
