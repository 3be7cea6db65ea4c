using System.Globalization;
using System.Text;

namespace LlmEngine.Host.Chat;

/// <summary>
/// Python's <c>str()</c> and <c>repr()</c> of template values: Jinja prints values with
/// <c>str()</c>, so <c>{{ [1, 'a'] }}</c> must read <c>[1, 'a']</c> and floats must print the
/// shortest repr (<c>1e+16</c>, <c>1.0</c>) exactly as Python does.
/// </summary>
internal static class PyFormat
{
    public static string TypeName(object? value) => value switch
    {
        null => "NoneType",
        string => "str",
        bool => "bool",
        long => "int",
        double => "float",
        PyList { IsTuple: true } => "tuple",
        PyList => "list",
        PyDict => "dict",
        Namespace => "Namespace",
        Undefined => "Undefined",
        LoopContext => "LoopContext",
        Function => "function",
        PyIterator iterator => iterator.TypeName,
        PyDictView view => view.TypeName,
        _ => value.GetType().Name,
    };

    public static string Str(object? value) => value switch
    {
        string s => s,
        Undefined => "",
        _ => Repr(value),
    };

    public static string Repr(object? value)
    {
        var sb = new StringBuilder();
        AppendRepr(sb, value);
        return sb.ToString();
    }

    private static void AppendRepr(StringBuilder sb, object? value)
    {
        switch (value)
        {
            case null: sb.Append("None"); break;
            case bool b: sb.Append(b ? "True" : "False"); break;
            case long l: sb.Append(l.ToString(CultureInfo.InvariantCulture)); break;
            case double d: sb.Append(Float(d)); break;
            case string s: AppendStringRepr(sb, s); break;
            case PyList list: AppendSequence(sb, list); break;
            case PyDict dict: AppendDict(sb, dict.Pairs.Select(p => (p.Key, p.Value))); break;
            case Namespace ns:
                sb.Append("<Namespace ");
                AppendDict(sb, ns.Attributes.Select(p => ((object)p.Key, p.Value)));
                sb.Append('>');
                break;
            case Undefined: sb.Append("Undefined"); break;
            case LoopContext loop: sb.Append($"<LoopContext {loop.Index}/{loop.Length}>"); break;
            case Function f: sb.Append($"<function {f.Name}>"); break;
            case PyIterator iterator: sb.Append($"<{iterator.TypeName} object>"); break;
            case PyDictView view:
                sb.Append(view.TypeName).Append('(');
                AppendSequence(sb, new PyList(view.Items));
                sb.Append(')');
                break;
            default: sb.Append(value); break;
        }
    }

    private static void AppendSequence(StringBuilder sb, PyList list)
    {
        sb.Append(list.IsTuple ? '(' : '[');
        for (var i = 0; i < list.Count; i++)
        {
            if (i > 0) sb.Append(", ");
            AppendRepr(sb, list[i]);
        }
        if (list.IsTuple && list.Count == 1) sb.Append(',');
        sb.Append(list.IsTuple ? ')' : ']');
    }

    private static void AppendDict(StringBuilder sb, IEnumerable<(object Key, object? Value)> pairs)
    {
        sb.Append('{');
        var first = true;
        foreach (var (key, value) in pairs)
        {
            if (!first) sb.Append(", ");
            first = false;
            AppendRepr(sb, key);
            sb.Append(": ");
            AppendRepr(sb, value);
        }
        sb.Append('}');
    }

    /// <summary>Python's unicode repr: single quotes unless the text has ' and no ".</summary>
    private static void AppendStringRepr(StringBuilder sb, string s)
    {
        var quote = s.Contains('\'') && !s.Contains('"') ? '"' : '\'';
        sb.Append(quote);
        foreach (var rune in s.EnumerateRunes())
        {
            var c = rune.Value;
            if (c == quote || c == '\\') sb.Append('\\').Append((char)c);
            else if (c == '\n') sb.Append("\\n");
            else if (c == '\r') sb.Append("\\r");
            else if (c == '\t') sb.Append("\\t");
            else if (c < 0x20 || c == 0x7f) sb.Append($"\\x{c:x2}");
            else if (c < 0x7f || PyString.IsPrintable(rune)) sb.Append(rune.ToString());
            else if (c <= 0xff) sb.Append($"\\x{c:x2}");
            else if (c <= 0xffff) sb.Append($"\\u{c:x4}");
            else sb.Append($"\\U{c:x8}");
        }
        sb.Append(quote);
    }

    /// <summary>
    /// Python's float repr: the shortest round-tripping digits, positional when the decimal
    /// exponent is in [-4, 16), scientific (<c>1e+16</c>, <c>1e-05</c>) otherwise.
    /// </summary>
    public static string Float(double d)
    {
        if (double.IsNaN(d)) return "nan";
        if (double.IsInfinity(d)) return d > 0 ? "inf" : "-inf";
        var sign = d < 0 || (d == 0 && double.IsNegative(d)) ? "-" : "";
        var (digits, point) = ShortestDigits(Math.Abs(d));
        // Value = 0.digits x 10^point.
        if (point > -4 && point <= 16)
        {
            if (point <= 0) return $"{sign}0.{new string('0', -point)}{digits}";
            if (point >= digits.Length) return $"{sign}{digits}{new string('0', point - digits.Length)}.0";
            return $"{sign}{digits[..point]}.{digits[point..]}";
        }
        var exponent = point - 1;
        var mantissa = digits.Length == 1 ? digits : $"{digits[0]}.{digits[1..]}";
        return $"{sign}{mantissa}e{(exponent < 0 ? '-' : '+')}{Math.Abs(exponent):00}";
    }

    /// <summary>.NET's "R" format is shortest round-trip too; only its layout differs from Python's.</summary>
    private static (string Digits, int Point) ShortestDigits(double d)
    {
        if (d == 0) return ("0", 1);
        var shortest = d.ToString("R", CultureInfo.InvariantCulture);
        var ePos = shortest.IndexOfAny(['E', 'e']);
        var exponent = ePos >= 0 ? int.Parse(shortest[(ePos + 1)..], CultureInfo.InvariantCulture) : 0;
        var mantissa = ePos >= 0 ? shortest[..ePos] : shortest;
        var dot = mantissa.IndexOf('.');
        var intPart = dot >= 0 ? mantissa[..dot] : mantissa;
        var allDigits = intPart + (dot >= 0 ? mantissa[(dot + 1)..] : "");
        var point = intPart.Length + exponent;
        var leading = allDigits.Length - allDigits.TrimStart('0').Length;
        var digits = allDigits.Trim('0');
        return (digits, point - leading);
    }
}
