using System.Globalization;
using System.Text.RegularExpressions;

namespace LlmEngine.Host.Chat;

/// <summary>
/// Jinja2's lexer as Hugging Face configures it (trim_blocks, lstrip_blocks, default delimiters,
/// no line statements). The rules mirror jinja2/lexer.py so whitespace comes out byte-identical:
/// <code>
///   text{%- ... -%}text     '-' strips all whitespace on that side (newlines too)
///   ␣␣{% ... %}⏎            lstrip_blocks drops the indentation before a block or comment tag
///                           that starts its line; trim_blocks drops one newline after %} or #}
///   ␣␣{{ ... }}⏎            neither applies to {{ }}
///   {%+ ... +%}             '+' turns lstrip/trim off for that side
/// </code>
/// </summary>
internal static partial class Lexer
{
    private const string Ws = @"[\s\x1c-\x1f]";

    public static IReadOnlyList<Token> Tokenize(string source)
    {
        var state = new LexState(Normalize(source));
        state.Run();
        return state.Tokens;
    }

    /// <summary>Newlines become "\n" and one trailing newline is dropped (keep_trailing_newline=False).</summary>
    private static string Normalize(string source)
    {
        var text = NewlineRegex().Replace(source, "\n");
        return text.EndsWith('\n') ? text[..^1] : text;
    }

    private sealed class LexState(string source)
    {
        private readonly int[] _lineStarts = LineStarts(source);
        private int _pos;
        private bool _lineStarting = true;

        public List<Token> Tokens { get; } = [];

        public void Run()
        {
            while (_pos < source.Length)
            {
                var tag = NextTagStart(_pos);
                if (tag < 0)
                {
                    Emit(TokenKind.Data, source[_pos..], _pos);
                    break;
                }
                var text = source[_pos..tag];
                var raw = RawBeginRegex().Match(source, tag);
                var opener = source[tag + 1];
                var sign = raw.Success ? raw.Groups[1].Value : SignAt(tag + 2);
                Emit(TokenKind.Data, StripBefore(text, sign, lstrip: opener != '{'), _pos);
                var end = raw.Success ? tag + raw.Length : tag + 2 + sign.Length;
                _lineStarting = source[end - 1] == '\n';
                _pos = end;
                if (raw.Success) LexRaw();
                else if (opener == '#') SkipComment(tag);
                else LexTag(opener == '%', tag);
            }
            Tokens.Add(new Token(TokenKind.Eof, "", LineAt(source.Length)));
        }

        private int NextTagStart(int from)
        {
            for (var i = source.IndexOf('{', from); i >= 0 && i + 1 < source.Length; i = source.IndexOf('{', i + 1))
            {
                if (source[i + 1] is '{' or '%' or '#') return i;
            }
            return -1;
        }

        private string SignAt(int index) =>
            index < source.Length && source[index] is '-' or '+' ? source[index].ToString() : "";

        /// <summary>Jinja's OptionalLStrip: '-' strips everything, else lstrip_blocks strips indentation.</summary>
        private string StripBefore(string text, string sign, bool lstrip)
        {
            if (sign == "-") return PyString.Strip(text, null, left: false);
            if (sign == "+" || !lstrip) return text;
            var lineStart = text.LastIndexOf('\n') + 1;
            if ((lineStart > 0 || _lineStarting) && lineStart < text.Length && text[lineStart..].All(PyString.IsSpace))
                return text[..lineStart];
            return text;
        }

        private void SkipComment(int start)
        {
            var end = CommentEndRegex().Match(source, _pos);
            if (!end.Success) throw ChatTemplateException.Syntax("Missing end of comment tag", LineAt(start));
            Advance(end);
        }

        private void LexRaw()
        {
            var end = RawEndRegex().Match(source, _pos);
            if (!end.Success) throw ChatTemplateException.Syntax("Missing end of raw directive", LineAt(_pos));
            Emit(TokenKind.Data, StripBefore(end.Groups[1].Value, end.Groups[2].Value, lstrip: true), _pos);
            Advance(end);
        }

        private void LexTag(bool block, int start)
        {
            Tokens.Add(new Token(block ? TokenKind.BlockBegin : TokenKind.VariableBegin, "", LineAt(start)));
            var brackets = new Stack<char>();
            while (_pos < source.Length)
            {
                if (brackets.Count == 0)
                {
                    var end = (block ? BlockEndRegex() : VariableEndRegex()).Match(source, _pos);
                    if (end.Success)
                    {
                        Tokens.Add(new Token(block ? TokenKind.BlockEnd : TokenKind.VariableEnd, "", LineAt(_pos)));
                        Advance(end);
                        return;
                    }
                }
                LexTagToken(brackets);
            }
            // An unterminated tag just ends the stream; the parser reports what it expected.
        }

        private void LexTagToken(Stack<char> brackets)
        {
            var at = _pos;
            Match m;
            if ((m = WhitespaceRegex().Match(source, at)).Success) { }
            else if ((m = FloatRegex().Match(source, at)).Success)
                Tokens.Add(new Token(TokenKind.Float, m.Value, LineAt(at),
                    double.Parse(m.Value.Replace("_", ""), NumberStyles.Float, CultureInfo.InvariantCulture)));
            else if ((m = IntegerRegex().Match(source, at)).Success)
                Tokens.Add(new Token(TokenKind.Integer, m.Value, LineAt(at), ParseInteger(m.Value, LineAt(at))));
            else if ((m = NameRegex().Match(source, at)).Success)
                Tokens.Add(new Token(TokenKind.Name, m.Value, LineAt(at)));
            else if ((m = StringRegex().Match(source, at)).Success)
                Tokens.Add(new Token(TokenKind.String, m.Value, LineAt(at), StringLiteral.Decode(m.Value[1..^1], LineAt(at))));
            else if ((m = OperatorRegex().Match(source, at)).Success)
            {
                Balance(brackets, m.Value, LineAt(at));
                Tokens.Add(new Token(TokenKind.Operator, m.Value, LineAt(at)));
            }
            else
                throw ChatTemplateException.Syntax($"unexpected char {PyFormat.Repr(source[at].ToString())} at {at}", LineAt(at));
            _pos = at + m.Length;
        }

        /// <summary>Inside brackets "}}" and "%}" are operators, so dict literals may nest.</summary>
        private static void Balance(Stack<char> brackets, string op, int line)
        {
            switch (op)
            {
                case "{": brackets.Push('}'); break;
                case "(": brackets.Push(')'); break;
                case "[": brackets.Push(']'); break;
                case "}" or ")" or "]":
                    if (brackets.Count == 0) throw ChatTemplateException.Syntax($"unexpected '{op}'", line);
                    var expected = brackets.Pop();
                    if (expected != op[0]) throw ChatTemplateException.Syntax($"unexpected '{op}', expected '{expected}'", line);
                    break;
            }
        }

        private static long ParseInteger(string text, int line)
        {
            var digits = text.Replace("_", "").ToLowerInvariant();
            var (body, radix) = digits.Length > 1 && digits[0] == '0' && digits[1] is 'x' or 'o' or 'b'
                ? (digits[2..], digits[1] switch { 'x' => 16, 'o' => 8, _ => 2 })
                : (digits, 10);
            try
            {
                return body.Aggregate(0L, (acc, c) => checked(acc * radix + (c <= '9' ? c - '0' : c - 'a' + 10)));
            }
            catch (OverflowException)
            {
                throw ChatTemplateException.Syntax($"integer literal too large: {text}", line);
            }
        }

        private void Advance(Match match)
        {
            _pos = match.Index + match.Length;
            _lineStarting = match.Length > 0 && source[_pos - 1] == '\n';
        }

        private void Emit(TokenKind kind, string text, int at)
        {
            if (text.Length > 0) Tokens.Add(new Token(kind, text, LineAt(at)));
        }

        private int LineAt(int position)
        {
            var index = Array.BinarySearch(_lineStarts, position);
            return (index >= 0 ? index : ~index - 1) + 1;
        }

        private static int[] LineStarts(string text)
        {
            var starts = new List<int> { 0 };
            for (var i = 0; i < text.Length; i++)
            {
                if (text[i] == '\n') starts.Add(i + 1);
            }
            return [.. starts];
        }
    }

    [GeneratedRegex(@"\r\n|\r|\n")]
    private static partial Regex NewlineRegex();

    [GeneratedRegex(@"\G\{%([-+]?)" + Ws + @"*raw" + Ws + @"*(?:-%\}" + Ws + @"*|%\})")]
    private static partial Regex RawBeginRegex();

    [GeneratedRegex(@"\G(.*?)\{%([-+]?)" + Ws + @"*endraw" + Ws + @"*(?:\+%\}|-%\}" + Ws + @"*|%\}\n?)", RegexOptions.Singleline)]
    private static partial Regex RawEndRegex();

    [GeneratedRegex(@"\G.*?(?:\+#\}|-#\}" + Ws + @"*|#\}\n?)", RegexOptions.Singleline)]
    private static partial Regex CommentEndRegex();

    [GeneratedRegex(@"\G(?:\+%\}|-%\}" + Ws + @"*|%\}\n?)")]
    private static partial Regex BlockEndRegex();

    [GeneratedRegex(@"\G(?:-\}\}" + Ws + @"*|\}\})")]
    private static partial Regex VariableEndRegex();

    [GeneratedRegex(@"\G" + Ws + "+")]
    private static partial Regex WhitespaceRegex();

    [GeneratedRegex(@"\G(?<!\.)(?:\d+_)*\d+(?:(?:\.(?:\d+_)*\d+)?e[+\-]?(?:\d+_)*\d+|\.(?:\d+_)*\d+)", RegexOptions.IgnoreCase)]
    private static partial Regex FloatRegex();

    [GeneratedRegex(@"\G(?:0b(?:_?[01])+|0o(?:_?[0-7])+|0x(?:_?[\da-f])+|[1-9](?:_?\d)*|0(?:_?0)*)", RegexOptions.IgnoreCase)]
    private static partial Regex IntegerRegex();

    [GeneratedRegex(@"\G[\w\p{Mn}\p{Mc}]+")]
    private static partial Regex NameRegex();

    [GeneratedRegex(@"\G(?:'[^'\\]*(?:\\.[^'\\]*)*'|""[^""\\]*(?:\\.[^""\\]*)*"")", RegexOptions.Singleline)]
    private static partial Regex StringRegex();

    [GeneratedRegex(@"\G(?://|\*\*|==|!=|>=|<=|[+\-/*%~\[\](){}><=.:|,;])")]
    private static partial Regex OperatorRegex();
}
