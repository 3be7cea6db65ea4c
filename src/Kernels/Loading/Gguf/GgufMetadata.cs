namespace LlmEngine.Kernels.Loading.Gguf;

/// <summary>A GGUF file's key-value metadata with typed reads. Integers of any stored width read as
/// any integer type (files differ: context_length is uint32 in one, uint64 in another); a missing or
/// mistyped required key is a <see cref="ModelLoadException"/> naming the file and key.</summary>
internal sealed class GgufMetadata(string path, IReadOnlyDictionary<string, object> values)
{
    public IReadOnlyDictionary<string, object> Values => values;

    public bool Has(string key) => values.ContainsKey(key);

    public string String(string key) => Optional<string>(key) ?? throw Missing(key);
    public string? StringOrNull(string key) => Optional<string>(key);

    public long Integer(string key) => IntegerOrNull(key) ?? throw Missing(key);

    public long? IntegerOrNull(string key) => values.TryGetValue(key, out var v) ? AsInteger(key, v) : null;

    public double? FloatOrNull(string key) => values.TryGetValue(key, out var v) ? v switch
    {
        float f => f,
        double d => d,
        _ => AsInteger(key, v),
    } : null;

    public bool? BoolOrNull(string key) => Optional<bool?>(key);

    public string[]? StringArray(string key) => Optional<string[]>(key);

    public float[]? FloatArray(string key) => Optional<float[]>(key);

    /// <summary>An array of integers of any stored width.</summary>
    public long[]? IntegerArray(string key) => values.TryGetValue(key, out var v)
        ? v is Array a && a is not string[] and not float[] and not double[] and not object[]
            ? a.Cast<object>().Select(e => AsInteger(key, e)).ToArray()
            : throw WrongType(key, v, "an integer array")
        : null;

    private T? Optional<T>(string key) => values.TryGetValue(key, out var v)
        ? v is T t ? t : throw WrongType(key, v, typeof(T).Name)
        : default;

    private long AsInteger(string key, object v) => v switch
    {
        byte or sbyte or ushort or short or uint or int or long => Convert.ToInt64(v),
        ulong u when u <= long.MaxValue => (long)u,
        _ => throw WrongType(key, v, "an integer"),
    };

    private ModelLoadException Missing(string key) => new($"{path}: GGUF metadata has no '{key}'");

    private ModelLoadException WrongType(string key, object value, string expected) =>
        new($"{path}: GGUF metadata '{key}' is {value.GetType().Name}, expected {expected}");
}
