namespace LlmEngine.Host.Chat;

/// <summary>Filters over sequences and mappings.</summary>
internal static partial class Filters
{
    private static object? Default(object? value, CallArgs args) =>
        value is Undefined || (Bool(args, 1, "boolean") && !PyOps.Truthy(value))
            ? args.Get(0, "default_value", "")
            : value;

    /// <summary>first: takes one item, so an iterator keeps the rest.</summary>
    private static object? First(object? value, CallArgs args)
    {
        var empty = Undefined.Hint("No first item, sequence was empty.");
        if (value is PyIterator iterator) return iterator.TryNext(out var next) ? next : empty;
        var items = PyOps.Iterate(value);
        return items.Count > 0 ? items[0] : empty;
    }

    private static object? Last(object? value, CallArgs args)
    {
        if (value is PyIterator iterator) throw new ChatTemplateException($"'{iterator.TypeName}' object is not reversible");
        var items = PyOps.Iterate(value);
        return items.Count > 0 ? items[^1] : Undefined.Hint("No last item, sequence was empty.");
    }

    private static object? Join(object? value, CallArgs args)
    {
        var items = PyOps.Iterate(value).AsEnumerable();
        if (args.Get(1, "attribute") is { } attribute) items = items.Select(AttributeGetter(attribute));
        return string.Join(PyFormat.Str(args.Get(0, "d", "")), items.Select(PyFormat.Str));
    }

    /// <summary>reverse: a string reversed; lists, dicts and undefined as reverse iterators (Python's reversed()).</summary>
    private static object? Reverse(object? value, CallArgs args) => value switch
    {
        string s => string.Concat(PyString.Characters(s).Reverse()),
        PyList list => new PyIterator(list.Items.Reverse(), list.IsTuple ? "reversed" : "list_reverseiterator"),
        PyDict dict => new PyIterator(dict.Keys.Reverse(), "dict_reversekeyiterator"),
        PyDictView view => new PyIterator(view.Items.Reverse(), view.ReversedTypeName),
        Undefined => new PyIterator([], "reversed"),
        _ => new PyList(PyOps.Iterate(value).Reverse().ToArray()),
    };

    private static object? Unique(object? value, CallArgs args) => new PyIterator(UniqueItems(value, args));

    private static IEnumerable<object?> UniqueItems(object? value, CallArgs args)
    {
        var key = AttributeGetter(args.Get(1, "attribute"), ignoreCase: !Bool(args, 0, "case_sensitive"));
        var seen = new List<object?>();
        foreach (var item in PyOps.Iterate(value))
        {
            var k = key(item);
            if (seen.Any(s => PyOps.AreEqual(s, k))) continue;
            seen.Add(k);
            yield return item;
        }
    }

    /// <summary>sort(reverse=False, case_sensitive=False, attribute=None); attribute may list several, comma-separated.</summary>
    private static object? Sort(object? value, CallArgs args)
    {
        var ignoreCase = !Bool(args, 1, "case_sensitive");
        var getters = (args.Get(2, "attribute") is string attributes ? attributes.Split(',') : new string?[] { null })
            .Select(a => AttributeGetter(a, ignoreCase: ignoreCase)).ToArray();
        Func<object?, object?> key = getters.Length == 1 ? getters[0] : item => PyList.Tuple(getters.Select(g => g(item)).ToArray());
        return new PyList(PyOps.Sorted(PyOps.Iterate(value), key, Bool(args, 0, "reverse")));
    }

    /// <summary>dictsort(case_sensitive=False, by='key', reverse=False): a list of (key, value) tuples.</summary>
    private static object? DictSort(object? value, CallArgs args)
    {
        if (value is Undefined u) throw u.Fail();
        if (value is not PyDict dict) throw new ChatTemplateException($"'{PyFormat.TypeName(value)}' object has no attribute 'items'");
        var position = args.Get(1, "by", "key") switch
        {
            "key" => 0,
            "value" => 1,
            _ => throw new ChatTemplateException("You can only sort by either \"key\" or \"value\""),
        };
        var ignoreCase = !Bool(args, 0, "case_sensitive");
        var pairs = dict.Pairs.Select(p => (object?)PyList.Tuple(p.Key, p.Value));
        return new PyList(PyOps.Sorted(pairs, item =>
        {
            var k = ((PyList)item!)[position];
            return ignoreCase && k is string s ? s.ToLowerInvariant() : k;
        }, Bool(args, 2, "reverse")));
    }

    private static object? Items(object? value, CallArgs args) => new PyIterator(ItemPairs(value));

    private static IEnumerable<object?> ItemPairs(object? value)
    {
        if (value is Undefined) yield break;
        if (value is not PyDict dict) throw new ChatTemplateException("Can only get item pairs from a mapping.");
        foreach (var (key, item) in dict.Pairs) yield return PyList.Tuple(key, item);
    }

    /// <summary>
    /// select/reject(test, *args) and selectattr/rejectattr(attribute, test, *args); without a
    /// test the value's truthiness decides.
    /// </summary>
    private static object? Select(object? value, CallArgs args, bool byAttribute, bool keep) =>
        new PyIterator(SelectItems(value, args, byAttribute, keep));

    private static IEnumerable<object?> SelectItems(object? value, CallArgs args, bool byAttribute, bool keep)
    {
        if (!PyOps.Truthy(value)) yield break;
        var rest = args.Positional.AsEnumerable();
        if (byAttribute && args.Positional.Count == 0) throw new ChatTemplateException("Missing parameter for attribute name");
        var key = byAttribute ? AttributeGetter(args.Positional[0]) : (item => item);
        if (byAttribute) rest = rest.Skip(1);
        var test = rest.FirstOrDefault() as string;
        var testArgs = new CallArgs(rest.Skip(1).ToArray(), args.Keywords);
        Func<object?, bool> predicate = test is null ? PyOps.Truthy : v => Tests.Apply(test, v, testArgs);
        foreach (var item in PyOps.Iterate(value))
        {
            if (predicate(key(item)) == keep) yield return item;
        }
    }

    /// <summary>map(attribute='x', default=...) or map('filter', *args).</summary>
    private static object? Map(object? value, CallArgs args) => new PyIterator(MapItems(value, args));

    private static IEnumerable<object?> MapItems(object? value, CallArgs args)
    {
        if (!PyOps.Truthy(value)) yield break;
        Func<object?, object?> transform;
        if (args.Positional.Count == 0 && args.TryGetKeyword("attribute", out var attribute))
            transform = AttributeGetter(attribute, args.TryGetKeyword("default", out var fallback) ? fallback : null);
        else if (args.Positional.Count > 0 && args.Positional[0] is string filter)
        {
            var filterArgs = new CallArgs(args.Positional.Skip(1).ToArray(), args.Keywords);
            transform = item => Apply(filter, item, filterArgs);
        }
        else throw new ChatTemplateException("map requires a filter argument");
        foreach (var item in PyOps.Iterate(value)) yield return transform(item);
    }

    private static object? Batch(object? value, CallArgs args) => new PyIterator(Batches(value, args));

    private static IEnumerable<object?> Batches(object? value, CallArgs args)
    {
        var size = PyOps.AsInt(args.Get(0, "linecount")) is { } n and > 0 ? (int)n
            : throw new ChatTemplateException("batch requires a positive linecount");
        var hasFill = args.TryGet(1, "fill_with", out var fill) && fill is not null;
        foreach (var chunk in PyOps.Iterate(value).Chunk(size))
        {
            var row = chunk.ToList();
            while (hasFill && row.Count < size) row.Add(fill);
            yield return new PyList(row);
        }
    }

    private static object? Sum(object? value, CallArgs args)
    {
        var key = AttributeGetter(args.Get(0, "attribute"));
        return PyOps.Iterate(value).Select(key).Aggregate(args.Get(1, "start", 0L), (acc, x) => PyArithmetic.Apply(BinaryOp.Add, acc, x));
    }

    /// <summary>min/max(case_sensitive=False, attribute=None): the first extreme item.</summary>
    private static object? MinMax(object? value, CallArgs args, bool wantMax)
    {
        var items = PyOps.Iterate(value);
        if (items.Count == 0) return Undefined.Hint("No aggregated item, sequence was empty.");
        var key = AttributeGetter(args.Get(1, "attribute"), ignoreCase: !Bool(args, 0, "case_sensitive"));
        var best = items[0];
        foreach (var item in items.Skip(1))
        {
            var order = PyOps.Compare(key(item), key(best));
            if (wantMax ? order > 0 : order < 0) best = item;
        }
        return best;
    }
}
