using System.Globalization;
using System.Text;

namespace LlmEngine.Host.Chat;

/// <summary>
/// Python's <c>json.dumps</c> as transformers' <c>tojson</c> filter calls it (ensure_ascii off by
/// default): separators ", " and ": " (or "," with an indent), Python float repr, keys coerced
/// to strings, optional indent and sort_keys. Tool schemas in prompts depend on this layout.
/// </summary>
internal sealed class PyJson
{
    private readonly string? _indent;
    private readonly string _itemSeparator;
    private readonly string _keySeparator;
    private readonly bool _ensureAscii;
    private readonly bool _sortKeys;
    private readonly StringBuilder _sb = new();

    private PyJson(string? indent, (string Item, string Key)? separators, bool ensureAscii, bool sortKeys)
    {
        _indent = indent;
        (_itemSeparator, _keySeparator) = separators ?? (indent is null ? (", ", ": ") : (",", ": "));
        _ensureAscii = ensureAscii;
        _sortKeys = sortKeys;
    }

    public static string Dumps(object? value, string? indent = null, (string Item, string Key)? separators = null,
        bool ensureAscii = false, bool sortKeys = false)
    {
        var writer = new PyJson(indent, separators, ensureAscii, sortKeys);
        writer.Write(value, 0);
        return writer._sb.ToString();
    }

    private void Write(object? value, int level)
    {
        switch (value)
        {
            case null: _sb.Append("null"); break;
            case bool b: _sb.Append(b ? "true" : "false"); break;
            case long l: _sb.Append(l.ToString(CultureInfo.InvariantCulture)); break;
            case double d: _sb.Append(Float(d)); break;
            case string s: WriteString(s); break;
            case PyList list: WriteContainer('[', ']', list.Items, level, (item, l) => Write(item, l)); break;
            case PyDict dict:
                var pairs = dict.Pairs.ToList();
                if (_sortKeys)
                    pairs = PyOps.Sorted(pairs.Select(p => (object?)p), p => ((KeyValuePair<object, object?>)p!).Key)
                        .Select(p => (KeyValuePair<object, object?>)p!).ToList();
                WriteContainer('{', '}', pairs, level, (pair, l) =>
                {
                    WriteString(Key(pair.Key));
                    _sb.Append(_keySeparator);
                    Write(pair.Value, l);
                });
                break;
            default:
                throw new ChatTemplateException($"Object of type {PyFormat.TypeName(value)} is not JSON serializable");
        }
    }

    /// <summary>Python's layout: items on their own lines one indent deeper, closer back at this level.</summary>
    private void WriteContainer<T>(char open, char close, IReadOnlyList<T> items, int level, Action<T, int> writeItem)
    {
        if (items.Count == 0)
        {
            _sb.Append(open).Append(close);
            return;
        }
        _sb.Append(open);
        var newline = _indent is null ? null : "\n" + string.Concat(Enumerable.Repeat(_indent, level + 1));
        _sb.Append(newline);
        for (var i = 0; i < items.Count; i++)
        {
            if (i > 0) _sb.Append(_itemSeparator).Append(newline);
            writeItem(items[i], level + 1);
        }
        if (_indent is not null) _sb.Append('\n').Append(string.Concat(Enumerable.Repeat(_indent, level)));
        _sb.Append(close);
    }

    private static string Key(object key) => key switch
    {
        string s => s,
        bool b => b ? "true" : "false",
        long l => l.ToString(CultureInfo.InvariantCulture),
        double d => Float(d),
        _ => throw new ChatTemplateException($"keys must be str, int, float, bool or None, not {PyFormat.TypeName(key)}"),
    };

    private static string Float(double d) =>
        double.IsNaN(d) ? "NaN" : double.IsInfinity(d) ? (d > 0 ? "Infinity" : "-Infinity") : PyFormat.Float(d);

    private void WriteString(string s)
    {
        _sb.Append('"');
        foreach (var c in s)
        {
            switch (c)
            {
                case '"': _sb.Append("\\\""); break;
                case '\\': _sb.Append("\\\\"); break;
                case '\n': _sb.Append("\\n"); break;
                case '\r': _sb.Append("\\r"); break;
                case '\t': _sb.Append("\\t"); break;
                case '\b': _sb.Append("\\b"); break;
                case '\f': _sb.Append("\\f"); break;
                case < ' ': _sb.Append($"\\u{(int)c:x4}"); break;
                case > '~' when _ensureAscii: _sb.Append($"\\u{(int)c:x4}"); break;
                default: _sb.Append(c); break;
            }
        }
        _sb.Append('"');
    }
}
