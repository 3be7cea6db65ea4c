using System.CommandLine;
using LlmEngine.Actors.Engine;
using LlmEngine.Host.Cli;

namespace LlmEngine.Host.Bench;

/// <summary>A named engine configuration of a sweep: the sweep's own engine options with the
/// flags written for this configuration laid over them.</summary>
internal sealed record SweepConfig(string Name, string Flags, EngineOptions Options)
{
    /// <summary>Parses <c>name:--flag value --flag value;name:...</c>.</summary>
    public static IReadOnlyList<SweepConfig> ParseAll(string text, EngineOptions baseOptions)
    {
        var configs = new List<SweepConfig>();
        foreach (var part in text.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            int colon = part.IndexOf(':');
            string name = (colon < 0 ? part : part[..colon]).Trim();
            string flags = colon < 0 ? "" : part[(colon + 1)..].Trim();
            if (name.Length == 0) throw new ArgumentException($"--configs: '{part}' has no name before ':'");
            if (configs.Any(c => c.Name == name)) throw new ArgumentException($"--configs: '{name}' is named twice");
            configs.Add(new SweepConfig(name, flags, EngineOverrides.Apply(flags, baseOptions)));
        }
        return configs.Count > 0 ? configs : throw new ArgumentException("--configs names no configuration");
    }
}

/// <summary>Engine flags over a base: only the flags actually written change the options.</summary>
internal static class EngineOverrides
{
    public static EngineOptions Apply(string flags, EngineOptions baseOptions)
    {
        var set = new EngineOptionSet();
        var command = new Command("config");
        set.AddTo(command);
        var parsed = command.Parse(flags.Split(' ', StringSplitOptions.RemoveEmptyEntries));
        if (parsed.Errors.Count > 0) throw new ArgumentException($"engine flags '{flags}': {string.Join("; ", parsed.Errors.Select(e => e.Message))}");
        return set.Bind(parsed, baseOptions);
    }
}
