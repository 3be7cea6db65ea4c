namespace LlmEngine.Kernels.Tokenizers;

/// <summary>An entry of tokenizer.json's <c>added_tokens</c>.</summary>
internal sealed record AddedToken(int Id, string Content, bool Special, bool Normalized, bool LStrip, bool RStrip, bool SingleWord);

/// <summary>Finds added tokens (<c>&lt;s&gt;</c>, <c>&lt;|endoftext|&gt;</c>, ...) written literally in
/// text so they become their id instead of being tokenized as characters: leftmost match
/// first, longest at a position, then Hugging Face's single_word / lstrip / rstrip rules.
/// Written here because Microsoft.ML.Tokenizers' special-token split has none of those rules.</summary>
internal sealed class AddedTokenMatcher
{
    // Candidates by first character, longest first, so a position is checked against few.
    private readonly Dictionary<char, AddedToken[]> _byFirstChar;

    public AddedTokenMatcher(IEnumerable<AddedToken> tokens) =>
        _byFirstChar = tokens.Where(t => t.Content.Length > 0)
            .GroupBy(t => t.Content[0])
            .ToDictionary(g => g.Key, g => g.OrderByDescending(t => t.Content.Length).ToArray());

    /// <summary>Cuts <paramref name="text"/> into pieces in order: (id, range) for a matched
    /// token (its range widened over stripped whitespace), (null, range) for text between.</summary>
    public List<(int? Id, int Start, int End)> Split(string text)
    {
        var pieces = new List<(int? Id, int Start, int End)>();
        int done = 0;
        for (int at = 0; at < text.Length;)
        {
            if (Find(text, at) is not { } found)
            {
                at++;
                continue;
            }
            AddedToken token = found;
            int start = at, stop = at + token.Content.Length;
            if (token.SingleWord && (IsWordChar(text, start - 1) || IsWordChar(text, stop)))
            {
                at = stop; // the match is consumed but unused, as in Hugging Face's scan
                continue;
            }
            if (token.LStrip)
                while (start > done && char.IsWhiteSpace(text[start - 1]))
                    start--;
            if (token.RStrip)
                while (stop < text.Length && char.IsWhiteSpace(text[stop]))
                    stop++;
            if (done < start)
                pieces.Add((null, done, start));
            pieces.Add((token.Id, start, stop));
            done = at = stop;
        }
        if (done < text.Length)
            pieces.Add((null, done, text.Length));
        return pieces;
    }

    private AddedToken? Find(string text, int at) =>
        _byFirstChar.TryGetValue(text[at], out AddedToken[]? candidates)
            ? candidates.FirstOrDefault(t => text.AsSpan(at).StartsWith(t.Content, StringComparison.Ordinal))
            : null;

    private static bool IsWordChar(string text, int i) =>
        i >= 0 && i < text.Length && (char.IsLetterOrDigit(text[i]) || text[i] == '_');
}
