using System.Text;
using System.Text.RegularExpressions;

namespace LlmEngine.Host.Chat;

/// <summary>Filters that produce text.</summary>
internal static partial class Filters
{
    private static object? Trim(object? value, CallArgs args) =>
        PyString.Strip(PyFormat.Str(value), args.Get(0, "chars") as string);

    /// <summary>Jinja's title filter (not str.title): capitalises after -, whitespace and opening brackets.</summary>
    private static object? Title(object? value, CallArgs args) =>
        string.Concat(WordBeginning().Split(PyFormat.Str(value))
            .Where(part => part.Length > 0)
            .Select(part => char.ToUpperInvariant(part[0]) + part[1..].ToLowerInvariant()));

    private static object? Replace(object? value, CallArgs args)
    {
        var old = PyFormat.Str(args.Get(0, "old"));
        var replacement = PyFormat.Str(args.Get(1, "new"));
        var count = args.Get(2, "count") is { } c ? PyOps.AsInt(c) ?? -1 : -1;
        return PyString.Replace(PyFormat.Str(value), old, replacement, count);
    }

    /// <summary>markupsafe.escape: Jinja's escape filter escapes even with autoescape off.</summary>
    private static object? Escape(object? value, CallArgs args) =>
        PyFormat.Str(value).Replace("&", "&amp;").Replace("<", "&lt;").Replace(">", "&gt;")
            .Replace("\"", "&#34;").Replace("'", "&#39;");

    /// <summary>indent(width=4, first=False, blank=False); width may also be the indent string.</summary>
    private static object? Indent(object? value, CallArgs args)
    {
        var text = value switch
        {
            string s => s,
            Undefined u => throw u.Fail(),
            PyList { IsTuple: false } => throw new ChatTemplateException("'list' object has no attribute 'splitlines'"),
            _ => throw new ChatTemplateException($"unsupported operand type(s) for +=: '{PyFormat.TypeName(value)}' and 'str'"),
        };
        var width = args.Get(0, "width", 4L);
        var indent = width as string ?? new string(' ', (int)(PyOps.AsInt(width) ?? 4));
        var lines = PyString.SplitLines(text + "\n");
        var blank = Bool(args, 2, "blank");
        var sb = new StringBuilder(lines.Count > 0 ? lines[0] : "");
        foreach (var line in lines.Skip(1))
        {
            sb.Append('\n');
            if (blank || line.Length > 0) sb.Append(indent);
            sb.Append(line);
        }
        return Bool(args, 1, "first") ? indent + sb : sb.ToString();
    }

    /// <summary>format(*args or **kwargs): printf-style, like <c>value % args</c>.</summary>
    private static object? Format(object? value, CallArgs args)
    {
        if (args.Positional.Count > 0 && args.Keywords.Count > 0)
            throw new ChatTemplateException("can't handle positional and keyword arguments at the same time");
        object? values = new PyList(args.Positional, isTuple: true);
        if (args.Keywords.Count > 0)
        {
            var dict = new PyDict();
            foreach (var (key, v) in args.Keywords) dict.Set(key, v);
            values = dict;
        }
        return PyPrintf.Format(PyFormat.Str(value), values);
    }

    /// <summary>transformers' tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False).</summary>
    private static object? ToJson(object? value, CallArgs args)
    {
        var indent = args.Get(1, "indent") switch
        {
            null => null,
            string s => s,
            var n when PyOps.AsInt(n) is { } i => new string(' ', (int)Math.Max(0, i)),
            var other => throw new ChatTemplateException($"indent must be int or str, not {PyFormat.TypeName(other)}"),
        };
        (string, string)? separators = args.Get(2, "separators") switch
        {
            null => null,
            PyList { Count: 2 } pair when pair[0] is string item && pair[1] is string key => (item, key),
            _ => throw new ChatTemplateException("separators must be a pair of strings"),
        };
        return PyJson.Dumps(value, indent, separators, Bool(args, 0, "ensure_ascii"), Bool(args, 3, "sort_keys"));
    }

    [GeneratedRegex(@"([-\s({\[<]+)")]
    private static partial Regex WordBeginning();
}
