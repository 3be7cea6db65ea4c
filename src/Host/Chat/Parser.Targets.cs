namespace LlmEngine.Host.Chat;

/// <summary>Parser part for assignment targets.</summary>
internal sealed partial class Parser
{
    /// <summary>
    /// Assignment target: a name, <c>ns.attr</c> where allowed, or a tuple of names
    /// (<c>for k, v in ...</c>, <c>set a, b = ...</c>).
    /// </summary>
    private Target ParseTarget(bool withNamespace, string[]? endNames = null)
    {
        var line = _stream.Current.Line;
        var items = new List<Target>();
        var isTuple = false;
        while (true)
        {
            if (items.Count > 0) _stream.ExpectOperator(",");
            if (IsTupleEnd(endNames) || _stream.Current.IsOperator("=")) break;
            items.Add(ParseTargetItem(withNamespace));
            if (!_stream.Current.IsOperator(",")) break;
            isTuple = true;
        }
        if (items.Count == 0) throw ChatTemplateException.Syntax($"Expected an expression, got '{_stream.Current.Describe()}'", line);
        return isTuple ? new TupleTarget(items, line) : items[0];
    }

    private Target ParseTargetItem(bool withNamespace)
    {
        var token = _stream.Next();
        if (token.Kind == TokenKind.Name && token.Text is not ("true" or "false" or "True" or "False" or "none" or "None"))
        {
            if (!withNamespace || !_stream.SkipOperator(".")) return new NameTarget(token.Text, token.Line);
            return new NamespaceTarget(token.Text, _stream.Expect(TokenKind.Name).Text, token.Line);
        }
        if (token.IsOperator("("))
        {
            var inner = ParseTarget(withNamespace);
            _stream.ExpectOperator(")");
            return inner;
        }
        if (token.Kind is TokenKind.Name or TokenKind.String or TokenKind.Integer or TokenKind.Float)
            throw ChatTemplateException.Syntax("can't assign to 'const'", token.Line);
        throw ChatTemplateException.Syntax($"unexpected '{token.Describe()}'", token.Line);
    }
}
