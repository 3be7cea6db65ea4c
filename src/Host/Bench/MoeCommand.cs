using System.CommandLine;
using System.Diagnostics;
using LlmEngine.Kernels.Models;
using LlmEngine.Kernels.Models.Layers;
using LlmEngine.Kernels.Native;
using Spectre.Console;
using TorchSharp;
using static TorchSharp.torch;

namespace LlmEngine.Host.Bench;

/// <summary>
/// <c>bench moe</c>: one mixture-of-experts layer's feed-forward on random weights, per token count:
/// the TorchSharp composition (router, one grouped pass per expert with index_select / index_add_),
/// the same experts' own work alone (each expert on its tokens, gathered beforehand), the native
/// grouped kernel, and a dense gated MLP with the same active parameters (intermediate k x I).
/// The composition minus the experts alone is what routing, gathering and scattering cost.
/// </summary>
internal static class MoeCommand
{
    public static Command Create()
    {
        var tokens = new Option<string>("--tokens") { Description = "Comma-separated token counts", DefaultValueFactory = _ => "1,8,32,64,256" };
        var hidden = new Option<int>("--hidden") { DefaultValueFactory = _ => 1024 };
        var intermediate = new Option<int>("--intermediate") { Description = "Each expert's intermediate size", DefaultValueFactory = _ => 3584 };
        var experts = new Option<int>("--experts") { DefaultValueFactory = _ => 8 };
        var topK = new Option<int>("--top-k") { DefaultValueFactory = _ => 2 };
        var dtype = new Option<string>("--dtype") { Description = "float32 or bfloat16", DefaultValueFactory = _ => "float32" };
        var repeats = new Option<int>("--repeats") { Description = "Timed calls per case (the median is reported)", DefaultValueFactory = _ => 20 };
        var output = new Option<FileInfo?>("--output-json");
        var command = new Command("moe", "Benchmark a mixture-of-experts layer: TorchSharp composition, the experts alone, the native grouped kernel, a dense MLP of the same active size");
        foreach (var o in new Option[] { tokens, hidden, intermediate, experts, topK, dtype, repeats, output }) command.Options.Add(o);
        command.SetAction(async (result, cancel) =>
        {
            NativeKernels.EnsureAvailable();
            var type = result.GetValue(dtype) == "bfloat16" ? ScalarType.BFloat16 : ScalarType.Float32;
            int d = result.GetValue(hidden), inter = result.GetValue(intermediate), count = result.GetValue(experts), k = result.GetValue(topK), n = result.GetValue(repeats);
            using var moe = Layer(d, inter, count, k, type);
            using var dense = Mlp(d, k * inter, type, seed: 99);
            var rows = new List<Dictionary<string, object>>();
            var table = new Table().Title($"Mixture of experts, {count} experts top-{k}, hidden {d}, intermediate {inter}, {type} (ms per call, median of {n}; native threads {NativeKernels.Threads}, libtorch {torch.get_num_threads()})")
                .AddColumns("tokens", "composition", "experts alone", "routing + gather/scatter", "native grouped", "speed-up", "dense same active");
            foreach (int t in BatchCommand.ParseSizes(result.GetValue(tokens)!))
            {
                using var x = randn(new long[] { t, d }, generator: new Generator(7)).to(type);
                double composed = Median(n, () => moe.Forward(x, MoePath.Composition).Dispose());
                double alone = Median(n, ExpertsAlone(moe, x));
                double native = Median(n, () => moe.Forward(x, MoePath.Grouped).Dispose());
                double same = Median(n, () => dense.Forward(x).Dispose());
                table.AddRow($"{t}", $"{composed:F3}", $"{alone:F3}", $"{composed - alone:F3}", $"{native:F3}", $"{composed / native:F2}x", $"{same:F3}");
                rows.Add(new() { ["tokens"] = t, ["composition_ms"] = composed, ["experts_alone_ms"] = alone, ["native_ms"] = native, ["dense_same_active_ms"] = same });
                Console.Error.WriteLine($"{t} tokens: composition {composed:F3} ms, experts alone {alone:F3}, native {native:F3}, dense {same:F3}");
            }
            BenchConsole.Out.Write(table);
            await BenchConsole.WriteJsonAsync(result.GetValue(output), new Dictionary<string, object>
            {
                ["hidden"] = d, ["intermediate"] = inter, ["experts"] = count, ["top_k"] = k, ["dtype"] = type.ToString(), ["rows"] = rows,
                ["native_grouped_max_rows_per_expert"] = GroupedExperts.MaxRowsPerExpert,
            });
            return 0;
        });
        return command;
    }

    private static SparseMoe Layer(int d, int inter, int count, int k, ScalarType type)
    {
        var experts = Enumerable.Range(0, count).Select(e => Mlp(d, inter, type, seed: e)).ToArray();
        var router = randn(new long[] { count, d }, generator: new Generator(1000)).mul_(0.02).to(type);
        return new SparseMoe(router, experts, new MixtureOfExperts(count, k, inter, Renormalize: true));
    }

    private static GatedMlp Mlp(int d, int inter, ScalarType type, int seed)
    {
        var g = new Generator((ulong)seed + 1);
        return new GatedMlp(LinearWeight.Of(randn(new long[] { 2 * inter, d }, generator: g).mul_(0.02).to(type)),
            LinearWeight.Of(randn(new long[] { d, inter }, generator: g).mul_(0.02).to(type)), "silu");
    }

    // Each expert on its own tokens (routed as the layer routes them, gathered outside the timing).
    private static Func<Action> ExpertsAlone(SparseMoe moe, Tensor x) => () =>
    {
        var groups = moe.Route(x).Select(g => (g.Expert, Rows: x.index_select(0, g.Tokens))).ToList();
        return () =>
        {
            foreach (var (expert, rows) in groups) expert.Forward(rows).Dispose();
        };
    };

    private static double Median(int n, Action call) => Median(n, () => call);

    // Milliseconds per call, median of n after two warm-up calls; setup builds the call once.
    private static double Median(int n, Func<Action> setup)
    {
        var call = setup();
        for (int i = 0; i < 2; i++) call();
        var times = new double[n];
        for (int i = 0; i < n; i++)
        {
            long start = Stopwatch.GetTimestamp();
            call();
            times[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        }
        Array.Sort(times);
        return times[n / 2];
    }
}
