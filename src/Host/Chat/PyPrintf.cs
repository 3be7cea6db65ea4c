using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace LlmEngine.Host.Chat;

/// <summary>
/// Python's printf-style <c>str % args</c> (also behind Jinja's <c>format</c> filter) for the
/// conversions templates use: %s %r %d %i %f %x %X %%, with flags, width, precision and
/// <c>%(name)s</c> lookups in a dict.
/// </summary>
internal static partial class PyPrintf
{
    public static string Format(string format, object? args)
    {
        var values = args is PyList { IsTuple: true } tuple ? tuple.Items : [args];
        var next = 0;
        var result = SpecRegex().Replace(format, m =>
        {
            var type = m.Groups["type"].Value[0];
            if (type == '%') return "%";
            object? value;
            if (m.Groups["key"].Success)
            {
                if (args is not PyDict dict) throw new ChatTemplateException("format requires a mapping");
                if (!dict.TryGet(m.Groups["key"].Value, out value)) throw new ChatTemplateException($"'{m.Groups["key"].Value}'");
            }
            else
            {
                if (next >= values.Count) throw new ChatTemplateException("not enough arguments for format string");
                value = values[next++];
            }
            return Pad(Convert(type, value, m.Groups["flags"].Value, m.Groups["precision"]), m.Groups["flags"].Value, m.Groups["width"].Value);
        });
        // Python skips this check for anything with __getitem__ that is not a tuple (dicts, lists, undefined).
        var mappingLike = args is PyDict or PyList { IsTuple: false } or Undefined;
        if (!mappingLike && next < values.Count)
            throw new ChatTemplateException("not all arguments converted during string formatting");
        return result;
    }

    private static string Convert(char type, object? value, string flags, Group precision)
    {
        var digits = precision.Success ? int.Parse(precision.Value, CultureInfo.InvariantCulture) : (int?)null;
        switch (type)
        {
            case 's':
                var s = PyFormat.Str(value);
                return digits is { } n && n < s.Length ? s[..n] : s;
            case 'r':
                return PyFormat.Repr(value);
            case 'd' or 'i' or 'x' or 'X':
                if (!PyOps.IsNumber(value)) throw new ChatTemplateException($"%{type} format: a real number is required, not {PyFormat.TypeName(value)}");
                var whole = PyOps.AsInt(value) ?? (long)Math.Truncate(PyOps.ToDouble(value));
                var text = type switch
                {
                    'x' => Math.Abs(whole).ToString("x", CultureInfo.InvariantCulture),
                    'X' => Math.Abs(whole).ToString("X", CultureInfo.InvariantCulture),
                    _ => Math.Abs(whole).ToString(CultureInfo.InvariantCulture),
                };
                return Sign(whole < 0, flags) + text;
            case 'f' or 'F':
                if (!PyOps.IsNumber(value)) throw new ChatTemplateException($"must be real number, not {PyFormat.TypeName(value)}");
                var d = PyOps.ToDouble(value);
                return Sign(d < 0, flags) + Math.Abs(d).ToString("F" + (digits ?? 6), CultureInfo.InvariantCulture);
            default:
                throw new ChatTemplateException($"unsupported format character '{type}'");
        }
    }

    private static string Sign(bool negative, string flags) =>
        negative ? "-" : flags.Contains('+') ? "+" : flags.Contains(' ') ? " " : "";

    private static string Pad(string text, string flags, string width)
    {
        if (width.Length == 0) return text;
        var w = int.Parse(width, CultureInfo.InvariantCulture);
        if (flags.Contains('-')) return text.PadRight(w);
        if (!flags.Contains('0') || text.Length >= w) return text.PadLeft(w);
        var signLength = text.Length > 0 && text[0] is '-' or '+' or ' ' ? 1 : 0;
        return new StringBuilder().Append(text[..signLength]).Append('0', w - text.Length).Append(text[signLength..]).ToString();
    }

    [GeneratedRegex(@"%(?:\((?<key>[^)]*)\))?(?<flags>[-+ 0#]*)(?<width>\d*)(?:\.(?<precision>\d+))?(?<type>[a-zA-Z%])")]
    private static partial Regex SpecRegex();
}
