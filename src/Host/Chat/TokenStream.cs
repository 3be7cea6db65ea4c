namespace LlmEngine.Host.Chat;

/// <summary>A cursor over the lexed tokens with the expect/skip helpers the parser needs.</summary>
internal sealed class TokenStream(IReadOnlyList<Token> tokens)
{
    private int _index;

    public Token Current => tokens[_index];

    public Token Peek => tokens[Math.Min(_index + 1, tokens.Count - 1)];

    public Token Next()
    {
        var token = Current;
        if (_index < tokens.Count - 1) _index++;
        return token;
    }

    public bool SkipName(string name) => Skip(Current.IsName(name));

    public bool SkipOperator(string op) => Skip(Current.IsOperator(op));

    private bool Skip(bool matches)
    {
        if (matches) Next();
        return matches;
    }

    public Token Expect(TokenKind kind, string? text = null)
    {
        if (Current.Kind == kind && (text is null || Current.Text == text)) return Next();
        var wanted = text ?? new Token(kind, "", 0).Describe();
        if (Current.Kind == TokenKind.Eof)
            throw ChatTemplateException.Syntax($"unexpected end of template, expected '{wanted}'.", Current.Line);
        throw ChatTemplateException.Syntax($"expected token '{wanted}', got '{Current.Describe()}'", Current.Line);
    }

    public Token ExpectName(string name) => Expect(TokenKind.Name, name);

    public Token ExpectOperator(string op) => Expect(TokenKind.Operator, op);
}
