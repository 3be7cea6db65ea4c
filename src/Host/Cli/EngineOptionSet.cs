using System.CommandLine;
using LlmEngine.Actors.Engine;

namespace LlmEngine.Host.Cli;

/// <summary>The command-line flags of <see cref="EngineOptions.Settings"/>: one option per
/// setting (a boolean one also as <c>--no-NAME</c>), defaults from <see cref="EngineOptions"/>.</summary>
internal sealed class EngineOptionSet
{
    private readonly List<Flag> _flags = EngineOptions.Settings.Select(s => s.Accept(new FlagMaker())).ToList();

    public void AddTo(Command command)
    {
        foreach (var flag in _flags)
            foreach (var option in flag.Options) command.Options.Add(option);
    }

    /// <summary>The default options with the flags of <paramref name="result"/> laid over them, validated.</summary>
    public EngineOptions Bind(ParseResult result) => Bind(result, new EngineOptions());

    /// <summary><paramref name="baseOptions"/> (not changed) with only the flags actually written
    /// in <paramref name="result"/> laid over them, validated.</summary>
    public EngineOptions Bind(ParseResult result, EngineOptions baseOptions)
    {
        var options = baseOptions with { };
        foreach (var flag in _flags) flag.Apply(result, options);
        return options.Validate();
    }

    private sealed record Flag(Option[] Options, Action<ParseResult, EngineOptions> Apply);

    private sealed class FlagMaker : IEngineSettingVisitor<Flag>
    {
        private static readonly EngineOptions Defaults = new();

        public Flag Visit<T>(EngineSetting<T> setting)
        {
            var option = new Option<T>(setting.Flag) { Description = setting.Description };
            if (setting.Get(Defaults) is { } value && !(value is bool || value is 0 or 0L or 0.0)) option.DefaultValueFactory = _ => value;
            if (setting is EngineSetting<bool> toggle)
            {
                var negation = new Option<bool>("--no-" + setting.Name) { Description = $"Turns {setting.Flag} off" };
                return new Flag([option, negation], (result, options) =>
                {
                    if (Written(result, option)) toggle.Set(options, result.GetValue((Option<bool>)(Option)option));
                    if (Written(result, negation)) toggle.Set(options, !result.GetValue(negation));
                });
            }
            return new Flag([option], (result, options) =>
            {
                if (Written(result, option)) setting.Set(options, result.GetValue(option)!);
            });
        }

        private static bool Written(ParseResult result, Option option) => result.GetResult(option) is { Implicit: false };
    }
}
