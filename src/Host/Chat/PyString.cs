using System.Globalization;
using System.Text;

namespace LlmEngine.Host.Chat;

/// <summary>
/// Python str semantics that differ from .NET's: lengths and indices count code points (an emoji
/// is one character, not two UTF-16 units), whitespace is Python's <c>isspace</c> set, and
/// split/strip/splitlines/title follow CPython.
/// </summary>
internal static class PyString
{
    /// <summary>Python's str.isspace: .NET's set plus the ASCII separators U+001C..U+001F.</summary>
    public static bool IsSpace(char c) => char.IsWhiteSpace(c) || (c >= '\x1c' && c <= '\x1f');

    public static bool IsPrintable(Rune rune) => rune.Value == ' ' || Rune.GetUnicodeCategory(rune) switch
    {
        UnicodeCategory.Control or UnicodeCategory.Format or UnicodeCategory.Surrogate
            or UnicodeCategory.PrivateUse or UnicodeCategory.OtherNotAssigned
            or UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator
            or UnicodeCategory.SpaceSeparator => false,
        _ => true,
    };

    private static bool HasSurrogates(string s) => s.AsSpan().IndexOfAnyInRange('\uD800', '\uDFFF') >= 0;

    /// <summary>Python orders strings by code point; UTF-16 order differs once surrogates meet U+E000..U+FFFF.</summary>
    public static int CompareCodePoints(string a, string b)
    {
        if (!HasSurrogates(a) && !HasSurrogates(b)) return Math.Sign(string.CompareOrdinal(a, b));
        using var x = a.EnumerateRunes().GetEnumerator();
        using var y = b.EnumerateRunes().GetEnumerator();
        while (true)
        {
            var moreX = x.MoveNext();
            var moreY = y.MoveNext();
            if (!moreX || !moreY) return moreX.CompareTo(moreY);
            if (x.Current != y.Current) return x.Current.Value.CompareTo(y.Current.Value);
        }
    }

    public static int Length(string s) => HasSurrogates(s) ? s.EnumerateRunes().Count() : s.Length;

    /// <summary>The string's characters as Python sees them (one string per code point).</summary>
    public static IReadOnlyList<string> Characters(string s) =>
        HasSurrogates(s)
            ? s.EnumerateRunes().Select(r => r.ToString()).ToArray()
            : s.Select(c => c.ToString()).ToArray();

    public static string Strip(string s, string? chars, bool left = true, bool right = true)
    {
        Func<int, bool> strip = chars is null
            ? c => c <= char.MaxValue && IsSpace((char)c)
            : c => chars.EnumerateRunes().Any(r => r.Value == c);
        var runes = s.EnumerateRunes().ToArray();
        var start = 0;
        var end = runes.Length;
        if (left) while (start < end && strip(runes[start].Value)) start++;
        if (right) while (end > start && strip(runes[end - 1].Value)) end--;
        return string.Concat(runes[start..end].Select(r => r.ToString()));
    }

    /// <summary>str.split: no separator splits on whitespace runs and drops empty pieces.</summary>
    public static List<string> Split(string s, string? separator, long maxSplit)
    {
        var parts = new List<string>();
        if (separator is null)
        {
            var i = 0;
            while (true)
            {
                while (i < s.Length && IsSpace(s[i])) i++;
                if (i == s.Length) break;
                if (maxSplit >= 0 && parts.Count == maxSplit)
                {
                    parts.Add(s[i..]);
                    break;
                }
                var start = i;
                while (i < s.Length && !IsSpace(s[i])) i++;
                parts.Add(s[start..i]);
            }
            return parts;
        }
        if (separator.Length == 0) throw new ChatTemplateException("empty separator");
        var pos = 0;
        while (maxSplit < 0 || parts.Count < maxSplit)
        {
            var next = s.IndexOf(separator, pos, StringComparison.Ordinal);
            if (next < 0) break;
            parts.Add(s[pos..next]);
            pos = next + separator.Length;
        }
        parts.Add(s[pos..]);
        return parts;
    }

    /// <summary>str.rsplit with an explicit separator: like split, but the limit counts from the right.</summary>
    public static List<string> RSplit(string s, string separator, long maxSplit)
    {
        if (maxSplit < 0) return Split(s, separator, maxSplit);
        if (separator.Length == 0) throw new ChatTemplateException("empty separator");
        var parts = new List<string>();
        var end = s.Length;
        while (parts.Count < maxSplit)
        {
            var next = end == 0 ? -1 : s.LastIndexOf(separator, end - 1, StringComparison.Ordinal);
            if (next < 0 || next + separator.Length > end) break;
            parts.Add(s[(next + separator.Length)..end]);
            end = next;
        }
        parts.Add(s[..end]);
        parts.Reverse();
        return parts;
    }

    /// <summary>str.replace; a negative count replaces all, an empty pattern matches between characters.</summary>
    public static string Replace(string s, string old, string replacement, long count)
    {
        if (old.Length > 0) return string.Join(replacement, Split(s, old, count));
        var sb = new StringBuilder();
        var characters = Characters(s);
        for (var i = 0; i <= characters.Count; i++)
        {
            if (count < 0 || i < count) sb.Append(replacement);
            if (i < characters.Count) sb.Append(characters[i]);
        }
        return sb.ToString();
    }

    /// <summary>str.splitlines: every Unicode line boundary Python knows, "\r\n" as one.</summary>
    public static List<string> SplitLines(string s, bool keepEnds = false)
    {
        var lines = new List<string>();
        var start = 0;
        var i = 0;
        while (i < s.Length)
        {
            var c = s[i];
            if (c is '\n' or '\r' or '\v' or '\f' or '\x1c' or '\x1d' or '\x1e' or '\x85' or '\u2028' or '\u2029')
            {
                var endOfBreak = c == '\r' && i + 1 < s.Length && s[i + 1] == '\n' ? i + 2 : i + 1;
                lines.Add(s[start..(keepEnds ? endOfBreak : i)]);
                start = i = endOfBreak;
            }
            else i++;
        }
        if (start < s.Length) lines.Add(s[start..]);
        return lines;
    }

    /// <summary>str.title: upper-case a letter after any uncased character, lower-case the rest.</summary>
    public static string Title(string s)
    {
        var sb = new StringBuilder(s.Length);
        var previousCased = false;
        foreach (var c in s)
        {
            sb.Append(previousCased ? char.ToLowerInvariant(c) : char.ToUpperInvariant(c));
            previousCased = char.IsUpper(c) || char.IsLower(c) || char.GetUnicodeCategory(c) == UnicodeCategory.TitlecaseLetter;
        }
        return sb.ToString();
    }

    public static string Capitalize(string s) =>
        s.Length == 0 ? s : char.ToUpperInvariant(s[0]) + s[1..].ToLowerInvariant();
}
