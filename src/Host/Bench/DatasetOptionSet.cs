using System.CommandLine;
using LlmEngine.Actors.Engine;

namespace LlmEngine.Host.Bench;

/// <summary>The request-set options of throughput, serve and sweep, and their binding.</summary>
internal sealed class DatasetOptionSet(int defaultPrompts, string defaultDataset = "random")
{
    public Option<string> Dataset { get; } = new("--dataset")
    {
        Description = "random (fixed lengths), sharegpt-like, alpaca-like (log-normal lengths with the datasets' published means) shared-prefix (one common prefix + a distinct suffix) or multi-tenant (--num-tenants prefixes, e.g. system prompts, each request one of them + a distinct suffix)",
        DefaultValueFactory = _ => defaultDataset,
    };
    public Option<int> InputLength { get; } = new("--input-len") { Description = "Prompt tokens (random, shared-prefix)", DefaultValueFactory = _ => 128 };
    public Option<int> OutputLength { get; } = new("--output-len") { Description = "Output tokens (random, shared-prefix)", DefaultValueFactory = _ => 128 };
    public Option<double> RangeRatio { get; } = new("--range-ratio") { Description = "Random lengths uniform in [L(1-r), L(1+r)] (random, shared-prefix)", DefaultValueFactory = _ => 0.0 };
    public Option<int?> PrefixLength { get; } = new("--prefix-len") { Description = $"Shared prefix of shared-prefix prompts (default: input-len - {BenchDataset.DefaultSuffixLength})" };
    public Option<int> Tenants { get; } = new("--num-tenants") { Description = "Distinct shared prefixes of multi-tenant prompts", DefaultValueFactory = _ => 8 };
    public Option<int> NumPrompts { get; } = new("--num-prompts") { Description = "Requests to send", DefaultValueFactory = _ => defaultPrompts };
    public Option<int> Seed { get; } = new("--seed") { Description = "Seed of lengths, token ids and arrivals", DefaultValueFactory = _ => 0 };

    public void AddTo(Command command)
    {
        Dataset.AcceptOnlyFromAmong("random", "sharegpt-like", "alpaca-like", "shared-prefix", "multi-tenant");
        foreach (var o in new Option[] { Dataset, InputLength, OutputLength, RangeRatio, PrefixLength, Tenants, NumPrompts, Seed }) command.Options.Add(o);
    }

    public DatasetSpec Bind(ParseResult result) => new(
        BenchDataset.Parse(result.GetValue(Dataset)!), result.GetValue(NumPrompts), result.GetValue(InputLength), result.GetValue(OutputLength),
        result.GetValue(RangeRatio), result.GetValue(PrefixLength), result.GetValue(Seed), result.GetValue(Tenants));

    /// <summary>The longest request the engine accepts: its model length, and no more tokens
    /// than its KV cache holds.</summary>
    public static int ContextOf(InferenceEngine engine) =>
        (int)Math.Min(engine.MaxModelLength, (long)engine.NumBlocks * engine.Options.BlockSize);

    public static Dictionary<string, object> Describe(DatasetSpec spec) => new()
    {
        ["dataset"] = BenchDataset.Name(spec.Kind),
        ["num_prompts"] = spec.NumPrompts,
        ["input_len"] = spec.InputLength,
        ["output_len"] = spec.OutputLength,
        ["range_ratio"] = spec.RangeRatio,
        ["prefix_len"] = spec.PrefixLength ?? BenchDataset.DefaultPrefix(spec.InputLength),
        ["seed"] = spec.Seed,
        ["num_tenants"] = spec.Kind == DatasetKind.MultiTenant ? spec.Tenants : 1,
    };
}
