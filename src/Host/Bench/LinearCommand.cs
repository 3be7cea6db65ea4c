using System.CommandLine;
using LlmEngine.Kernels.Models;
using LlmEngine.Kernels.Native;
using Spectre.Console;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace LlmEngine.Host.Bench;

/// <summary>
/// <c>bench linear</c>: one decode step's matrix products of a model (per layer the fused qkv, the
/// output projection, the fused gate/up and down projections, then the LM head; random weights of
/// the config's shapes) at each row count, on libtorch's GEMM, on the native small-batch kernel (up to
/// 64 rows) and, where the CPU allows (float32: AVX-512; bfloat16: AVX512_BF16), on the packed GEMM (weights packed once
/// before timing; its outputs in recycled memory as <c>Linear</c> makes them, and in new memory as libtorch's are),
/// alternating in one process. Medians over rounds of wall and calling-thread CPU time per step and the GFLOP/s
/// they give; with LLM_NATIVE_THREADS=1 OMP_NUM_THREADS=1 both arms run on the calling thread, so
/// its CPU time counts all of their work, the steadiest figure on a loaded machine.
/// </summary>
internal static class LinearCommand
{
    private const int NativeMaxRows = 64;  // the small-batch kernel's limit

    public static Command Create()
    {
        var model = new Option<string>("--model") { DefaultValueFactory = _ => "config/models/llama-110m" };
        var dtype = new Option<string>("--dtype") { DefaultValueFactory = _ => "bfloat16" };
        var rowCounts = new Option<string>("--rows") { DefaultValueFactory = _ => "1,8,32,64" };
        var steps = new Option<int>("--steps") { DefaultValueFactory = _ => 4 };
        var rounds = new Option<int>("--rounds") { DefaultValueFactory = _ => 7 };
        var command = new Command("linear", "A decode step's matrix products on libtorch's GEMM and on the native kernel, alternating in one process");
        foreach (var o in new Option[] { model, dtype, rowCounts, steps, rounds }) command.Options.Add(o);
        command.SetAction(result =>
        {
            var scalar = ModelFactory.ParseDType(result.GetValue(dtype)!);
            var c = ModelFactory.Describe(result.GetValue(model)).Config;
            long d = c.HiddenSize, q = (long)c.NumHeads * c.HeadSize, kv = (long)c.KvHeads * c.HeadSize, ffn = c.IntermediateSize;
            (long Out, long In)[] layer = [(q + 2 * kv, d), (d, q), (2 * ffn, d), (d, ffn)];
            (long Out, long In)[] shapes = [.. Enumerable.Repeat(layer, c.NumLayers).SelectMany(s => s), (c.VocabSize, d)];
            using var noGrad = no_grad();
            using var generator = new Generator(1);
            var weights = shapes.Select(s => randn(new[] { s.Out, s.In }, generator: generator).mul_(0.05).to(scalar)).ToArray();
            var packed = weights.Select(PackedDenseWeight.TryPack).ToArray();
            var table = new Table().Title($"One decode step's matrix products of {c.NumLayers} layers + LM head, {scalar} (medians of {result.GetValue(rounds)} rounds; "
                + $"libtorch threads {get_num_threads()}, native {NativeKernels.Threads}{(NativeKernels.HasBFloat16Dot ? ", bf16 dot products" : "")}{(PackedDenseWeight.AmxEnabled ? ", amx tiles" : "")})");
            foreach (var h in new[] { "rows", "path", "wall ms/step", "thread CPU ms/step", "GFLOP/s (wall)", "GFLOP/s (CPU)" }) table.AddColumn(h);
            foreach (int rows in result.GetValue(rowCounts)!.Split(',').Select(int.Parse))
            {
                var inputs = shapes.Select(s => s.In).Distinct().ToDictionary(k => k, k => randn(new long[] { rows, k }, generator: generator).to(scalar));
                double flops = 2.0 * rows * shapes.Sum(s => (double)s.Out * s.In);
                string[] arms = ["libtorch", .. rows <= NativeMaxRows ? ["native"] : Array.Empty<string>(), .. packed[0] is null ? [] : new[] { "packed", "packed, new memory" }];
                var times = Alternation.Run(result.GetValue(rounds), result.GetValue(steps), arm =>
                {
                    using var scope = NewDisposeScope();
                    for (int i = 0; i < shapes.Length; i++)
                    {
                        var x = inputs[shapes[i].In];
                        if (arm == 0)
                        {
                            F.linear(x, weights[i]);
                            continue;
                        }
                        var output = arms[arm] == "packed" ? RecycledTensors.Empty(rows, shapes[i].Out, scalar) : empty(new long[] { rows, shapes[i].Out }, dtype: scalar);
                        if (arms[arm] == "native") NativeKernels.SmallLinear(output, x, weights[i]);
                        else packed[i]!.Apply(output, x);
                    }
                }, arms.Length);
                for (int arm = 0; arm < arms.Length; arm++)
                    table.AddRow($"{rows}", arms[arm], $"{times[arm].Wall:F2}", $"{times[arm].Cpu:F2}",
                        $"{flops / times[arm].Wall / 1e6:F0}", $"{flops / times[arm].Cpu / 1e6:F0}");
                foreach (var x in inputs.Values) x.Dispose();
            }
            foreach (var w in weights) w.Dispose();
            foreach (var p in packed) p?.Dispose();
            BenchConsole.Out.Write(table);
            return 0;
        });
        return command;
    }
}
