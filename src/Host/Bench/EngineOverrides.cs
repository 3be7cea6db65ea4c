using System.CommandLine;
using LlmEngine.Actors.Engine;
using LlmEngine.Host.Cli;

namespace LlmEngine.Host.Bench;

/// <summary>A named engine configuration of a sweep: the sweep's own engine options with the
/// flags written for this configuration laid over them.</summary>
public sealed record SweepConfig(string Name, string Flags, EngineOptions Options)
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
public static class EngineOverrides
{
    public static EngineOptions Apply(string flags, EngineOptions baseOptions)
    {
        var set = new EngineOptionSet();
        var command = new Command("config");
        set.AddTo(command);
        var parsed = command.Parse(flags.Split(' ', StringSplitOptions.RemoveEmptyEntries));
        if (parsed.Errors.Count > 0) throw new ArgumentException($"engine flags '{flags}': {string.Join("; ", parsed.Errors.Select(e => e.Message))}");
        var given = set.Bind(parsed);
        var options = BatchBench.Copy(baseOptions);
        foreach (var (option, copy) in Setters(set))
            if (parsed.GetResult(option) is { Implicit: false }) copy(options, given);
        return options;
    }

    private static IEnumerable<(Option, Action<EngineOptions, EngineOptions>)> Setters(EngineOptionSet s) =>
    [
        (s.Model, (o, g) => o.Model = g.Model),
        (s.ServedModelName, (o, g) => o.ServedModelName = g.ServedModelName),
        (s.LoadFormat, (o, g) => o.LoadFormat = g.LoadFormat),
        (s.DType, (o, g) => o.DType = g.DType),
        (s.Device, (o, g) => o.Device = g.Device),
        (s.BlockSize, (o, g) => o.BlockSize = g.BlockSize),
        (s.NumBlocks, (o, g) => o.NumBlocks = g.NumBlocks),
        (s.KvCacheSpace, (o, g) => o.KvCacheSpaceGiB = g.KvCacheSpaceGiB),
        (s.SwapSpace, (o, g) => o.SwapSpaceGiB = g.SwapSpaceGiB),
        (s.MaxNumSeqs, (o, g) => o.MaxNumSeqs = g.MaxNumSeqs),
        (s.MaxNumBatchedTokens, (o, g) => o.MaxNumBatchedTokens = g.MaxNumBatchedTokens),
        (s.MaxModelLength, (o, g) => o.MaxModelLength = g.MaxModelLength),
        (s.Preemption, (o, g) => o.PreemptionMode = g.PreemptionMode),
        (s.AttentionBackend, (o, g) => o.AttentionBackend = g.AttentionBackend),
        (s.EnablePrefixCaching, (o, _) => o.EnablePrefixCaching = true),
        (s.NoEnablePrefixCaching, (o, _) => o.EnablePrefixCaching = false),
        (s.KvLayout, (o, g) => o.KvLayout = g.KvLayout),
        (s.Batching, (o, g) => o.Batching = g.Batching),
        (s.Seed, (o, g) => o.Seed = g.Seed),
    ];
}
