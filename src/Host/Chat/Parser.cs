namespace LlmEngine.Host.Chat;

/// <summary>
/// Statement half of a recursive-descent parser that follows jinja2/parser.py, so operator
/// precedence, tuple rules and where conditional expressions are allowed all match Jinja.
/// </summary>
internal sealed partial class Parser
{
    private readonly TokenStream _stream;
    private readonly Stack<string> _openTags = new();
    private readonly Stack<HashSet<string>> _macroSpecialNames = new();
    private int _loopDepth;

    private Parser(IReadOnlyList<Token> tokens) => _stream = new TokenStream(tokens);

    public static IReadOnlyList<Node> Parse(string source) => new Parser(Lexer.Tokenize(source)).Subparse([]);

    /// <summary>Parses until a block tag whose name is in <paramref name="endTags"/>, leaving that name current.</summary>
    private List<Node> Subparse(IReadOnlyCollection<string> endTags)
    {
        var body = new List<Node>();
        while (_stream.Current.Kind != TokenKind.Eof)
        {
            var token = _stream.Next();
            switch (token.Kind)
            {
                case TokenKind.Data:
                    body.Add(new TextNode(token.Text, token.Line));
                    break;
                case TokenKind.VariableBegin:
                    body.Add(new OutputNode(ParseTuple(withCondition: true), token.Line));
                    _stream.Expect(TokenKind.VariableEnd);
                    break;
                case TokenKind.BlockBegin:
                    if (_stream.Current.Kind == TokenKind.Name && endTags.Contains(_stream.Current.Text)) return body;
                    body.Add(ParseStatement(endTags));
                    _stream.Expect(TokenKind.BlockEnd);
                    break;
                default:
                    throw ChatTemplateException.Syntax($"unexpected '{token.Describe()}'", token.Line);
            }
        }
        return body;
    }

    private Node ParseStatement(IReadOnlyCollection<string> endTags)
    {
        var token = _stream.Current;
        if (token.Kind != TokenKind.Name) throw ChatTemplateException.Syntax("tag name expected", token.Line);
        Func<Node>? parse = token.Text switch
        {
            "if" => ParseIf,
            "for" => ParseFor,
            "set" => ParseSet,
            "macro" => ParseMacro,
            "call" => ParseCallBlock,
            "filter" => ParseFilterBlock,
            "with" => ParseWith,
            "generation" => ParseGeneration,
            "print" => ParsePrint,
            "break" or "continue" => ParseLoopControl,
            _ => null,
        };
        if (parse is null) throw UnknownTag(token, endTags);
        _openTags.Push(token.Text);
        try
        {
            return parse();
        }
        finally
        {
            _openTags.Pop();
        }
    }

    private ChatTemplateException UnknownTag(Token token, IReadOnlyCollection<string> endTags)
    {
        var message = $"Encountered unknown tag '{token.Text}'.";
        if (endTags.Count > 0)
            message += $" Jinja was looking for the following tags: {string.Join(" or ", endTags.Select(t => $"'{t}'"))}.";
        return ChatTemplateException.Syntax(message + InnermostBlock(), token.Line);
    }

    private string InnermostBlock() =>
        _openTags.Count > 0 ? $" The innermost block that needs to be closed is '{_openTags.Peek()}'." : "";

    /// <summary>Body of a block statement up to one of <paramref name="endTags"/>; fails at end of template.</summary>
    private List<Node> ParseBody(string[] endTags, bool dropEndTag)
    {
        _stream.SkipOperator(":");
        _stream.Expect(TokenKind.BlockEnd);
        var body = Subparse(endTags);
        if (_stream.Current.Kind == TokenKind.Eof)
        {
            var expected = string.Join(" or ", endTags.Select(t => $"'{t}'"));
            throw ChatTemplateException.Syntax(
                $"Unexpected end of template. Jinja was looking for the following tags: {expected}.{InnermostBlock()}", _stream.Current.Line);
        }
        if (dropEndTag) _stream.Next();
        return body;
    }

    private IfNode ParseIf()
    {
        var line = _stream.ExpectName("if").Line;
        var branches = new List<(Expr, IReadOnlyList<Node>)>();
        while (true)
        {
            var test = ParseTuple(withCondition: false);
            branches.Add((test, ParseBody(["elif", "else", "endif"], dropEndTag: false)));
            var end = _stream.Next();
            if (end.IsName("elif")) continue;
            var elseBody = end.IsName("else") ? ParseBody(["endif"], dropEndTag: true) : [];
            return new IfNode(branches, elseBody, line);
        }
    }

    private ForNode ParseFor()
    {
        var line = _stream.ExpectName("for").Line;
        var target = ParseTarget(withNamespace: false, endNames: ["in"]);
        _stream.ExpectName("in");
        var iterable = ParseTuple(withCondition: false, endNames: ["recursive"]);
        var filter = _stream.SkipName("if") ? ParseExpression() : null;
        if (_stream.Current.IsName("recursive"))
            throw ChatTemplateException.Syntax("recursive loops are not supported", _stream.Current.Line);
        _loopDepth++;
        var body = ParseBody(["endfor", "else"], dropEndTag: false);
        _loopDepth--;
        var elseBody = _stream.Next().IsName("else") ? ParseBody(["endfor"], dropEndTag: true) : [];
        return new ForNode(target, iterable, filter, body, elseBody, line);
    }

    private Node ParseSet()
    {
        var line = _stream.ExpectName("set").Line;
        var target = ParseTarget(withNamespace: true);
        if (_stream.SkipOperator("=")) return new SetNode(target, ParseTuple(withCondition: true), line);
        var filter = _stream.Current.IsOperator("|") ? ParseFilterChain(null) : null;
        return new SetBlockNode(target, filter, ParseBody(["endset"], dropEndTag: true), line);
    }

    private MacroNode ParseMacro()
    {
        var line = _stream.ExpectName("macro").Line;
        var name = _stream.Expect(TokenKind.Name).Text;
        return new MacroNode(ParseMacroBody(name, ParseSignature(), "endmacro"), line);
    }

    private CallBlockNode ParseCallBlock()
    {
        var line = _stream.ExpectName("call").Line;
        var parameters = _stream.Current.IsOperator("(") ? ParseSignature() : [];
        if (ParseExpression() is not CallExpr call) throw ChatTemplateException.Syntax("expected call", line);
        return new CallBlockNode(ParseMacroBody("caller", parameters, "endcall"), call, line);
    }

    /// <summary>
    /// A macro body runs outside any loop (break/continue inside it are errors), and notes which
    /// of varargs/kwargs/caller it mentions, nested macros included, as Jinja does.
    /// </summary>
    private MacroDefinition ParseMacroBody(string name, List<Parameter> parameters, string endTag)
    {
        var savedLoopDepth = _loopDepth;
        _loopDepth = 0;
        var mentioned = new HashSet<string>();
        _macroSpecialNames.Push(mentioned);
        var body = ParseBody([endTag], dropEndTag: true);
        _macroSpecialNames.Pop();
        _loopDepth = savedLoopDepth;
        return new MacroDefinition(name, parameters, body,
            mentioned.Contains("varargs"), mentioned.Contains("kwargs"), mentioned.Contains("caller"));
    }

    /// <summary>Called for every variable name read, so enclosing macro bodies learn what they use.</summary>
    private void NoteName(string name)
    {
        if (name is not ("varargs" or "kwargs" or "caller")) return;
        foreach (var names in _macroSpecialNames) names.Add(name);
    }

    private List<Parameter> ParseSignature()
    {
        var parameters = new List<Parameter>();
        _stream.ExpectOperator("(");
        while (!_stream.Current.IsOperator(")"))
        {
            if (parameters.Count > 0) _stream.ExpectOperator(",");
            var name = _stream.Expect(TokenKind.Name);
            var value = _stream.SkipOperator("=") ? ParseExpression() : null;
            if (value is null && parameters.Any(p => p.Default is not null))
                throw ChatTemplateException.Syntax("non-default argument follows default argument", name.Line);
            parameters.Add(new Parameter(name.Text, value));
        }
        _stream.ExpectOperator(")");
        return parameters;
    }

    private FilterBlockNode ParseFilterBlock()
    {
        var line = _stream.ExpectName("filter").Line;
        var filter = ParseFilterChain(null, startInline: true);
        return new FilterBlockNode(filter, ParseBody(["endfilter"], dropEndTag: true), line);
    }

    private WithNode ParseWith()
    {
        var line = _stream.ExpectName("with").Line;
        var bindings = new List<(Target, Expr)>();
        while (_stream.Current.Kind != TokenKind.BlockEnd)
        {
            if (bindings.Count > 0) _stream.ExpectOperator(",");
            var target = ParseTarget(withNamespace: false);
            _stream.ExpectOperator("=");
            bindings.Add((target, ParseExpression()));
        }
        return new WithNode(bindings, ParseBody(["endwith"], dropEndTag: true), line);
    }

    /// <summary>transformers' AssistantTracker tag: renders its body in its own scope.</summary>
    private WithNode ParseGeneration()
    {
        var line = _stream.ExpectName("generation").Line;
        return new WithNode([], ParseBody(["endgeneration"], dropEndTag: true), line);
    }

    private Node ParsePrint()
    {
        var line = _stream.ExpectName("print").Line;
        var items = new List<Expr>();
        while (_stream.Current.Kind != TokenKind.BlockEnd)
        {
            if (items.Count > 0) _stream.ExpectOperator(",");
            items.Add(ParseExpression());
        }
        return new OutputNode(new ConcatExpr(items, line), line);
    }

    private Node ParseLoopControl()
    {
        var token = _stream.Next();
        if (_loopDepth == 0) throw ChatTemplateException.Syntax($"'{token.Text}' outside loop", token.Line);
        return token.Text == "break" ? new BreakNode(token.Line) : new ContinueNode(token.Line);
    }
}
