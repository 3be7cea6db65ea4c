namespace LlmEngine.Host.Chat;

internal enum TokenKind
{
    Data,
    VariableBegin,
    VariableEnd,
    BlockBegin,
    BlockEnd,
    Name,
    String,
    Integer,
    Float,
    Operator,
    Eof,
}

/// <summary>A lexed token; <see cref="Value"/> holds the decoded literal for strings and numbers.</summary>
internal sealed record Token(TokenKind Kind, string Text, int Line, object? Value = null)
{
    public bool Is(TokenKind kind, string text) => Kind == kind && Text == text;

    public bool IsName(string name) => Is(TokenKind.Name, name);

    public bool IsOperator(string op) => Is(TokenKind.Operator, op);

    /// <summary>How Jinja names a token in "expected ..., got ..." messages.</summary>
    public string Describe() => Kind switch
    {
        TokenKind.VariableBegin => "begin of print statement",
        TokenKind.VariableEnd => "end of print statement",
        TokenKind.BlockBegin => "begin of statement block",
        TokenKind.BlockEnd => "end of statement block",
        TokenKind.Data => "template data / text",
        TokenKind.Eof => "end of template",
        TokenKind.Name or TokenKind.Operator when Text.Length > 0 => Text,
        _ => Kind.ToString().ToLowerInvariant(),
    };
}
