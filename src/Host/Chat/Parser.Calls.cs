namespace LlmEngine.Host.Chat;

/// <summary>Parser part for call arguments, filter chains and tests.</summary>
internal sealed partial class Parser
{
    private Arguments ParseArguments()
    {
        var open = _stream.ExpectOperator("(");
        var positional = new List<Expr>();
        var keywords = new List<(string, Expr)>();
        Expr? spread = null;
        Expr? keywordSpread = null;
        void Ensure(bool ok)
        {
            if (!ok) throw ChatTemplateException.Syntax("invalid syntax for function call expression", open.Line);
        }
        var first = true;
        while (!_stream.Current.IsOperator(")"))
        {
            if (!first)
            {
                _stream.ExpectOperator(",");
                if (_stream.Current.IsOperator(")")) break;
            }
            first = false;
            if (_stream.SkipOperator("*"))
            {
                Ensure(spread is null && keywordSpread is null);
                spread = ParseExpression();
            }
            else if (_stream.SkipOperator("**"))
            {
                Ensure(keywordSpread is null);
                keywordSpread = ParseExpression();
            }
            else if (_stream.Current.Kind == TokenKind.Name && _stream.Peek.IsOperator("="))
            {
                Ensure(keywordSpread is null);
                var name = _stream.Next().Text;
                _stream.Next();
                keywords.Add((name, ParseExpression()));
            }
            else
            {
                Ensure(spread is null && keywordSpread is null && keywords.Count == 0);
                positional.Add(ParseExpression());
            }
        }
        _stream.ExpectOperator(")");
        return new Arguments(positional, keywords, spread, keywordSpread);
    }

    /// <summary><c>| name(args) | name ...</c>; a filter block starts with the name, no pipe.</summary>
    private FilterExpr ParseFilterChain(Expr? input, bool startInline = false)
    {
        FilterExpr? chain = null;
        while (startInline || _stream.Current.IsOperator("|"))
        {
            if (!startInline) _stream.Next();
            startInline = false;
            var name = _stream.Expect(TokenKind.Name);
            var fullName = name.Text;
            while (_stream.SkipOperator(".")) fullName += "." + _stream.Expect(TokenKind.Name).Text;
            var args = _stream.Current.IsOperator("(") ? ParseArguments() : Arguments.None;
            chain = new FilterExpr((Expr?)chain ?? input, fullName, args, name.Line);
        }
        return chain!;
    }

    /// <summary><c>x is [not] name</c>, with arguments in parentheses or one bare primary (<c>divisibleby 3</c>).</summary>
    private Expr ParseTest(Expr node)
    {
        var line = _stream.Next().Line;
        var negated = _stream.SkipName("not");
        var name = _stream.Expect(TokenKind.Name).Text;
        while (_stream.SkipOperator(".")) name += "." + _stream.Expect(TokenKind.Name).Text;
        var args = Arguments.None;
        var current = _stream.Current;
        if (current.IsOperator("(")) args = ParseArguments();
        else if (StartsBareArgument(current))
        {
            if (current.IsName("is")) throw ChatTemplateException.Syntax("You cannot chain multiple tests with is", current.Line);
            args = new Arguments([ParsePostfix(ParsePrimary())], [], null, null);
        }
        Expr test = new TestExpr(node, name, args, line);
        return negated ? new UnaryExpr(UnaryOp.Not, test, line) : test;
    }

    private static bool StartsBareArgument(Token token) =>
        token.Kind switch
        {
            TokenKind.Name => token.Text is not ("else" or "or" or "and"),
            TokenKind.String or TokenKind.Integer or TokenKind.Float => true,
            TokenKind.Operator => token.Text is "(" or "[" or "{",
            _ => false,
        };
}
