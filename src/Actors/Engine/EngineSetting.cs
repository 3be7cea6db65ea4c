namespace LlmEngine.Actors.Engine;

/// <summary>One engine setting as every door names it: <c>--name</c> on the command line,
/// <c>name_with_underscores</c> in benchmark JSON, the property in configuration section "Engine";
/// with its description and its rule (null: any value is fine).</summary>
public abstract class EngineSetting(string name, string description)
{
    public string Name { get; } = name;
    public string Description { get; } = description;
    public string Flag => "--" + Name;
    public string JsonKey => Name.Replace('-', '_');

    /// <summary>The value as JSON writes it (enums in lower case, as on the command line).</summary>
    public abstract object? JsonValue(EngineOptions options);
    /// <summary>What is wrong with the value in <paramref name="options"/>, or null.</summary>
    public abstract string? Problem(EngineOptions options);
    public abstract TResult Accept<TResult>(IEngineSettingVisitor<TResult> visitor);
}

/// <summary>Lets a door that knows its own types (command-line options) handle each setting with its value type.</summary>
public interface IEngineSettingVisitor<out TResult>
{
    TResult Visit<T>(EngineSetting<T> setting);
}

public sealed class EngineSetting<T>(string name, string description, Func<EngineOptions, T> get, Action<EngineOptions, T> set, Func<T, string?>? rule = null)
    : EngineSetting(name, description)
{
    public T Get(EngineOptions options) => get(options);
    public void Set(EngineOptions options, T value) => set(options, value);

    public override object? JsonValue(EngineOptions options) => get(options) is Enum e ? e.ToString().ToLowerInvariant() : get(options);
    public override string? Problem(EngineOptions options) => rule?.Invoke(get(options)) is { } why ? $"{Flag} {why}, got {JsonValue(options) ?? "nothing"}" : null;
    public override TResult Accept<TResult>(IEngineSettingVisitor<TResult> visitor) => visitor.Visit(this);
}

/// <summary>The rules settings use.</summary>
internal static class SettingRules
{
    public static Func<int, string?> Between(int low, int high) => v => v < low || v > high ? $"must be between {low} and {high}" : null;
    public static Func<int, string?> AtLeast(int low) => v => v < low ? $"must be at least {low}" : null;
    public static Func<double, string?> NotNegative => v => v < 0 || double.IsNaN(v) ? "must not be negative" : null;
    public static Func<double, string?> Positive => v => !(v > 0) ? "must be greater than 0" : null;
    public static Func<string?, string?> OneOf(params string[] allowed) =>
        v => v is null || allowed.Contains(v, StringComparer.OrdinalIgnoreCase) ? null : $"must be one of {string.Join(", ", allowed)}";
}

/// <summary>An engine setting out of its range: the command line reports it in one line and exits with 2.</summary>
public sealed class EngineOptionsException(string message) : ArgumentException(message);
