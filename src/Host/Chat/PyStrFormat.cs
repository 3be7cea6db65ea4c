using System.Text;

namespace LlmEngine.Host.Chat;

/// <summary>
/// Python's <c>str.format</c> for plain fields: <c>{}</c>, <c>{0}</c>, <c>{name}</c>,
/// <c>{0.attr}</c>, <c>{0[key]}</c>, <c>!r</c>/<c>!s</c> and doubled braces. Format specs
/// after ':' are not supported and raise.
/// </summary>
internal static class PyStrFormat
{
    public static string Format(string format, CallArgs args)
    {
        var sb = new StringBuilder();
        var auto = 0;
        for (var i = 0; i < format.Length; i++)
        {
            var c = format[i];
            if ((c == '{' || c == '}') && i + 1 < format.Length && format[i + 1] == c)
            {
                sb.Append(c);
                i++;
                continue;
            }
            if (c == '}') throw new ChatTemplateException("Single '}' encountered in format string");
            if (c != '{')
            {
                sb.Append(c);
                continue;
            }
            var close = format.IndexOf('}', i);
            if (close < 0) throw new ChatTemplateException("Single '{' encountered in format string");
            sb.Append(Field(format[(i + 1)..close], args, ref auto));
            i = close;
        }
        return sb.ToString();
    }

    private static string Field(string field, CallArgs args, ref int auto)
    {
        if (field.Contains(':')) throw new ChatTemplateException("format specs are not supported in str.format");
        var conversion = 's';
        var bang = field.IndexOf('!');
        if (bang >= 0)
        {
            conversion = field.Length == bang + 2 ? field[bang + 1] : '?';
            field = field[..bang];
        }
        var end = field.IndexOfAny(['.', '[']);
        var head = end < 0 ? field : field[..end];
        var value = head.Length == 0 ? Positional(args, auto++)
            : int.TryParse(head, out var index) ? Positional(args, index)
            : Keyword(args, head);
        for (var rest = end < 0 ? "" : field[end..]; rest.Length > 0;)
        {
            if (rest[0] == '.')
            {
                var stop = rest.IndexOfAny(['.', '['], 1);
                var name = stop < 0 ? rest[1..] : rest[1..stop];
                value = PyAccess.GetAttr(value, name);
                rest = stop < 0 ? "" : rest[stop..];
            }
            else
            {
                var stop = rest.IndexOf(']');
                if (stop < 0) throw new ChatTemplateException("Missing ']' in format string");
                var key = rest[1..stop];
                value = PyAccess.GetItem(value, long.TryParse(key, out var n) ? n : key);
                rest = rest[(stop + 1)..];
            }
        }
        return conversion switch
        {
            's' => PyFormat.Str(value),
            'r' => PyFormat.Repr(value),
            _ => throw new ChatTemplateException("Unknown conversion specifier"),
        };
    }

    private static object? Positional(CallArgs args, int index) =>
        index < args.Positional.Count
            ? args.Positional[index]
            : throw new ChatTemplateException($"Replacement index {index} out of range for positional args tuple");

    private static object? Keyword(CallArgs args, string name)
    {
        foreach (var (key, value) in args.Keywords)
        {
            if (key == name) return value;
        }
        throw new ChatTemplateException($"'{name}'");
    }
}
