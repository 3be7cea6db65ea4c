namespace LlmEngine.Host.Chat;

/// <summary>
/// Python's arithmetic operators: int stays int unless an operand is a float (or the operator
/// is /), // and % floor toward negative infinity, + and * also work on str and list, and
/// anything touching undefined fails the way Jinja's Undefined does.
/// </summary>
internal static class PyArithmetic
{
    public static object? Apply(BinaryOp op, object? a, object? b)
    {
        // str % x formats before undefined is looked at: '%s' % missing is ''.
        if (op == BinaryOp.Mod && a is string format) return PyPrintf.Format(format, b);
        if (a is Undefined u) throw u.Fail();
        if (b is Undefined v) throw v.Fail();
        return op switch
        {
            BinaryOp.Add => Add(a, b),
            BinaryOp.Sub => Numeric(a, b, "-", (x, y) => checked(x - y), (x, y) => x - y),
            BinaryOp.Mul => Multiply(a, b),
            BinaryOp.Div => Divide(a, b),
            BinaryOp.FloorDiv => Numeric(a, b, "//", FloorDiv, (x, y) => Math.Floor(CheckDivisor(y, x / y))),
            BinaryOp.Mod => Numeric(a, b, "%", Mod, FloatMod),
            BinaryOp.Pow => Power(a, b),
            _ => throw new ArgumentOutOfRangeException(nameof(op)),
        };
    }

    public static object? Negate(object? value, bool negate) => value switch
    {
        Undefined u => throw u.Fail(),
        // Arms are boxed separately: a shared numeric type would turn every int into a float.
        double d => (object)(negate ? -d : d),
        long or bool when PyOps.AsInt(value) is { } l => (object)(negate ? checked(-l) : l),
        _ => throw new ChatTemplateException($"bad operand type for unary {(negate ? '-' : '+')}: '{PyFormat.TypeName(value)}'"),
    };

    private static object? Add(object? a, object? b) => (a, b) switch
    {
        (string x, string y) => x + y,
        (string, _) => throw new ChatTemplateException($"can only concatenate str (not \"{PyFormat.TypeName(b)}\") to str"),
        (PyList x, PyList y) when x.IsTuple == y.IsTuple => new PyList([.. x, .. y], x.IsTuple),
        (PyList x, _) => throw new ChatTemplateException(
            $"can only concatenate {PyFormat.TypeName(x)} (not \"{PyFormat.TypeName(b)}\") to {PyFormat.TypeName(x)}"),
        _ => Numeric(a, b, "+", (x, y) => checked(x + y), (x, y) => x + y),
    };

    private static object? Multiply(object? a, object? b) => (a, b) switch
    {
        (string s, _) when PyOps.AsInt(b) is { } n => Repeat(s, n),
        (_, string s) when PyOps.AsInt(a) is { } n => Repeat(s, n),
        (PyList list, _) when PyOps.AsInt(b) is { } n => RepeatList(list, n),
        (_, PyList list) when PyOps.AsInt(a) is { } n => RepeatList(list, n),
        _ => Numeric(a, b, "*", (x, y) => checked(x * y), (x, y) => x * y),
    };

    private static string Repeat(string s, long n) => n <= 0 ? "" : string.Concat(Enumerable.Repeat(s, (int)n));

    private static PyList RepeatList(PyList list, long n) =>
        new(n <= 0 ? [] : Enumerable.Repeat(list.Items, (int)n).SelectMany(x => x).ToArray(), list.IsTuple);

    private static object? Divide(object? a, object? b)
    {
        if (!PyOps.IsNumber(a) || !PyOps.IsNumber(b)) throw Unsupported("/", a, b);
        var divisor = PyOps.ToDouble(b);
        if (divisor == 0) throw new ChatTemplateException("division by zero");
        return PyOps.ToDouble(a) / divisor;
    }

    private static long FloorDiv(long x, long y)
    {
        if (y == 0) throw new ChatTemplateException("integer division or modulo by zero");
        var q = x / y;
        return (x % y != 0 && (x < 0) != (y < 0)) ? q - 1 : q;
    }

    private static long Mod(long x, long y)
    {
        if (y == 0) throw new ChatTemplateException("integer modulo by zero");
        var r = x % y;
        return r != 0 && (r < 0) != (y < 0) ? r + y : r;
    }

    private static double FloatMod(double x, double y)
    {
        var r = CheckDivisor(y, x % y);
        return r != 0 && (r < 0) != (y < 0) ? r + y : r;
    }

    private static double CheckDivisor(double divisor, double result) =>
        divisor == 0 ? throw new ChatTemplateException("float division by zero") : result;

    private static object? Power(object? a, object? b)
    {
        if (!PyOps.IsNumber(a) || !PyOps.IsNumber(b)) throw Unsupported("** or pow()", a, b);
        if (PyOps.AsInt(a) is not { } x || PyOps.AsInt(b) is not { } y || y < 0)
            return Math.Pow(PyOps.ToDouble(a), PyOps.ToDouble(b));
        return Numeric(x, y, "**", IntPower, Math.Pow);
    }

    /// <summary>Exponentiation by squaring, overflow-checked.</summary>
    private static long IntPower(long x, long y)
    {
        long result = 1;
        while (y > 0)
        {
            if ((y & 1) == 1) result = checked(result * x);
            y >>= 1;
            if (y > 0) x = checked(x * x);
        }
        return result;
    }

    private static object? Numeric(object? a, object? b, string symbol, Func<long, long, long> ints, Func<double, double, double> floats)
    {
        if (!PyOps.IsNumber(a) || !PyOps.IsNumber(b)) throw Unsupported(symbol, a, b);
        try
        {
            return PyOps.AsInt(a) is { } x && PyOps.AsInt(b) is { } y ? (object)ints(x, y) : floats(PyOps.ToDouble(a), PyOps.ToDouble(b));
        }
        catch (OverflowException)
        {
            throw new ChatTemplateException("integer overflow (values beyond 64 bits are not supported)");
        }
    }

    private static ChatTemplateException Unsupported(string symbol, object? a, object? b) =>
        new($"unsupported operand type(s) for {symbol}: '{PyFormat.TypeName(a)}' and '{PyFormat.TypeName(b)}'");
}
