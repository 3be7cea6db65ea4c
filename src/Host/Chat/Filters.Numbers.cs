using System.Globalization;
using System.Numerics;

namespace LlmEngine.Host.Chat;

/// <summary>Numeric filters, with Python's conversion rules.</summary>
internal static partial class Filters
{
    /// <summary>int(default=0, base=10): int(str, base), else int(float(value)), else the default.</summary>
    private static object? Int(object? value, CallArgs args)
    {
        if (value is Undefined u) throw u.Fail();
        var fallback = args.Get(0, "default", 0L);
        var radix = (int)(PyOps.AsInt(args.Get(1, "base", 10L)) ?? 10);
        return value switch
        {
            long or bool => PyOps.AsInt(value),
            double d when double.IsFinite(d) => (long)Math.Truncate(d),
            string s when ParseInt(s, radix) is { } i => i,
            string s when ParseFloat(s) is { } d && double.IsFinite(d) => (long)Math.Truncate(d),
            _ => fallback,
        };
    }

    private static object? Float(object? value, CallArgs args)
    {
        if (value is Undefined u) throw u.Fail();
        return value switch
        {
            long or bool or double => PyOps.ToDouble(value),
            string s when ParseFloat(s) is { } d => d,
            _ => args.Get(0, "default", 0.0),
        };
    }

    private static object? Abs(object? value, CallArgs args) => value switch
    {
        double d => (object)Math.Abs(d),
        long or bool when PyOps.AsInt(value) is { } i => (object)Math.Abs(i),
        _ => throw new ChatTemplateException($"bad operand type for abs(): '{PyFormat.TypeName(value)}'"),
    };

    /// <summary>round(precision=0, method='common'): Python's round (half to even) keeps ints as ints.</summary>
    private static object? Round(object? value, CallArgs args)
    {
        var precision = (int)(PyOps.AsInt(args.Get(0, "precision", 0L)) ?? 0);
        var method = args.Get(1, "method", "common") as string;
        if (!PyOps.IsNumber(value)) throw new ChatTemplateException($"type {PyFormat.TypeName(value)} doesn't define __round__ method");
        var scale = Math.Pow(10, precision);
        return method switch
        {
            "common" when PyOps.AsInt(value) is { } i => (object)(precision >= 0 ? i : RoundIntHalfEven(i, -precision)),
            "common" => RoundHalfEven(PyOps.ToDouble(value), precision),
            "ceil" => Math.Ceiling(PyOps.ToDouble(value) * scale) / scale,
            "floor" => Math.Floor(PyOps.ToDouble(value) * scale) / scale,
            _ => throw new ChatTemplateException("method must be common, ceil or floor"),
        };
    }

    /// <summary>
    /// Python's round(x, n): half-to-even on the double's exact binary value, so 2.675 (really
    /// 2.67499999...) rounds to 2.67 where decimal-based rounding would give 2.68.
    /// </summary>
    private static double RoundHalfEven(double value, int digits)
    {
        if (!double.IsFinite(value) || value == 0 || digits > 330) return value;
        var bits = BitConverter.DoubleToInt64Bits(Math.Abs(value));
        var exponent = (int)((bits >> 52) & 0x7FF);
        var mantissa = new BigInteger(bits & 0xFFFFFFFFFFFFFL);
        if (exponent == 0) exponent = 1;
        else mantissa += BigInteger.One << 52;
        exponent -= 1075;
        // |value| * 10^digits = numerator / denominator, exactly.
        var numerator = mantissa * BigInteger.Pow(10, Math.Max(digits, 0)) << Math.Max(exponent, 0);
        var denominator = BigInteger.Pow(10, Math.Max(-digits, 0)) << Math.Max(-exponent, 0);
        var quotient = BigInteger.DivRem(numerator, denominator, out var remainder);
        var twice = remainder * 2;
        if (twice > denominator || (twice == denominator && !quotient.IsEven)) quotient += 1;
        var rounded = double.Parse($"{quotient}e{-digits}", NumberStyles.Float, CultureInfo.InvariantCulture);
        return value < 0 ? -rounded : rounded;
    }

    /// <summary>int.__round__ with negative digits: to a multiple of 10^digits, ties to even.</summary>
    private static long RoundIntHalfEven(long value, int digits)
    {
        if (digits > 18) return 0;
        var unit = (long)Math.Pow(10, digits);
        var quotient = Math.DivRem(Math.Abs(value), unit, out var remainder);
        if (remainder * 2 > unit || (remainder * 2 == unit && quotient % 2 == 1)) quotient++;
        return Math.Sign(value) * quotient * unit;
    }

    /// <summary>Python's int(str, base): surrounding whitespace, a sign, '_' between digits, 0x/0o/0b prefixes.</summary>
    private static long? ParseInt(string text, int radix)
    {
        var s = PyString.Strip(text, null).Replace("_", "").ToLowerInvariant();
        var negative = s.StartsWith('-');
        if (negative || s.StartsWith('+')) s = s[1..];
        var prefix = radix switch { 16 => "0x", 8 => "0o", 2 => "0b", _ => null };
        if (prefix is not null && s.StartsWith(prefix, StringComparison.Ordinal)) s = s[2..];
        if (s.Length == 0 || radix is < 2 or > 36) return null;
        long result = 0;
        foreach (var c in s)
        {
            var digit = c is >= '0' and <= '9' ? c - '0' : c is >= 'a' and <= 'z' ? c - 'a' + 10 : 99;
            if (digit >= radix) return null;
            try { result = checked(result * radix + digit); }
            catch (OverflowException) { return null; }
        }
        return negative ? -result : result;
    }

    /// <summary>Python's float(str): decimal or exponent notation, inf/infinity/nan in any case.</summary>
    private static double? ParseFloat(string text)
    {
        var s = PyString.Strip(text, null).Replace("_", "");
        var unsigned = s.TrimStart('+', '-').ToLowerInvariant();
        var sign = s.StartsWith('-') ? -1 : 1;
        if (unsigned is "inf" or "infinity") return sign * double.PositiveInfinity;
        if (unsigned == "nan") return double.NaN;
        if (unsigned.Length == 0 || !unsigned.All(c => char.IsAsciiDigit(c) || c is '.' or 'e' or '+' or '-')) return null;
        return double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) ? d : null;
    }
}
