using System.Globalization;
using System.Text;

namespace LlmEngine.Host.Chat;

/// <summary>
/// Decodes a quoted literal's body the way Jinja does (Python's unicode-escape): \n, \t, \xhh,
/// \uhhhh, octal and friends are decoded, unknown escapes such as \d are kept verbatim.
/// </summary>
internal static class StringLiteral
{
    public static string Decode(string body, int line)
    {
        if (!body.Contains('\\')) return body;
        var sb = new StringBuilder(body.Length);
        for (var i = 0; i < body.Length; i++)
        {
            var c = body[i];
            if (c != '\\' || i + 1 == body.Length)
            {
                sb.Append(c);
                continue;
            }
            var e = body[++i];
            switch (e)
            {
                case '\n': break;
                case '\\' or '\'' or '"': sb.Append(e); break;
                case 'a': sb.Append('\a'); break;
                case 'b': sb.Append('\b'); break;
                case 'f': sb.Append('\f'); break;
                case 'n': sb.Append('\n'); break;
                case 'r': sb.Append('\r'); break;
                case 't': sb.Append('\t'); break;
                case 'v': sb.Append('\v'); break;
                case 'x': sb.Append(Hex(body, ref i, 2, line)); break;
                case 'u': sb.Append(Hex(body, ref i, 4, line)); break;
                case 'U': sb.Append(Hex(body, ref i, 8, line)); break;
                case >= '0' and <= '7':
                    var value = e - '0';
                    for (var n = 0; n < 2 && i + 1 < body.Length && body[i + 1] is >= '0' and <= '7'; n++)
                        value = value * 8 + (body[++i] - '0');
                    sb.Append((char)value);
                    break;
                default: sb.Append('\\').Append(e); break;
            }
        }
        return sb.ToString();
    }

    private static string Hex(string body, ref int i, int digits, int line)
    {
        var start = i + 1;
        if (start + digits > body.Length
            || !int.TryParse(body.AsSpan(start, digits), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var code)
            || code > 0x10FFFF)
            throw ChatTemplateException.Syntax($"truncated \\{body[i]}{new string('X', digits)} escape", line);
        i += digits;
        // Lone surrogates are legal in Python strings; keep them as UTF-16 units.
        return code <= 0xFFFF ? ((char)code).ToString() : char.ConvertFromUtf32(code);
    }
}
