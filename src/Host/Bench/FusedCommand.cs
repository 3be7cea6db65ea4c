using System.CommandLine;
using System.Diagnostics;
using LlmEngine.Kernels.Attention;
using LlmEngine.Kernels.Cache;
using LlmEngine.Kernels.Models;
using LlmEngine.Kernels.Native;
using LlmEngine.Kernels.Runtime;
using Spectre.Console;
using static TorchSharp.torch;

namespace LlmEngine.Host.Bench;

/// <summary>
/// <c>bench fused</c>: one sequence's decode forward pass (the engine's paged native attention over 128
/// cached positions; a float16 cache under quantized weights, as "auto" gives) in three arms, alternating
/// in one process on one loaded model so that the shared machine's noise falls on all alike: libtorch's
/// element-wise chains, the fused element-wise calls (<see cref="FusedOps"/>) and the fused decode layer
/// (<see cref="DecodeLayer"/>, one native call per layer). Reports medians over rounds of the wall time
/// and of the calling thread's CPU time per step; with LLM_NATIVE_THREADS=1 the CPU time counts all of a
/// step's work and none of the waiting, the steadiest figure on a loaded machine.
/// </summary>
internal static class FusedCommand
{
    private const int Context = 128, BlockSize = 16;
    private static readonly string[] Arms = ["libtorch chains", "fused calls", "fused layer"];

    public static Command Create()
    {
        var model = new Option<string>("--model") { DefaultValueFactory = _ => "config/models/llama-110m" };
        var loadFormat = new Option<string>("--load-format") { DefaultValueFactory = _ => "dummy" };
        var dtype = new Option<string>("--dtype") { DefaultValueFactory = _ => "bfloat16" };
        var quantization = new Option<string?>("--quantization");
        var steps = new Option<int>("--steps") { DefaultValueFactory = _ => 16 };
        var rounds = new Option<int>("--rounds") { DefaultValueFactory = _ => 9 };
        var command = new Command("fused", "Decode steps at one sequence through libtorch's chains, the fused element-wise calls and the fused decode layer, alternating in one process");
        foreach (var o in new Option[] { model, loadFormat, dtype, quantization, steps, rounds }) command.Options.Add(o);
        command.SetAction(result =>
        {
            var scalar = result.GetValue(dtype) is "float32" or "fp32" ? ScalarType.Float32 : ScalarType.BFloat16;
            using var loaded = ModelFactory.Load(result.GetValue(model), result.GetValue(loadFormat)!, scalar, CPU,
                quantization: ModelFactory.ParseQuantization(result.GetValue(quantization)));
            var m = loaded.Model;
            var c = m.Config;
            int blocks = Context / BlockSize + 1;
            using var cache = new PagedKvCache(c.NumLayers, blocks, BlockSize, c.KvHeads, c.HeadSize,
                result.GetValue(quantization) is null ? m.DType : ScalarType.Float16, m.Device);
            var attention = AttentionBackends.Create("native", cache);
            using var batch = new AttentionBatch([0], [0, 1], [Context + 1], [[.. Enumerable.Range(0, blocks)]], [Context]);
            using var noGrad = no_grad();
            using var token = tensor(new long[] { 5 });
            using var position = tensor(new long[] { Context });
            using var rows = tensor(new long[] { 0 });
            void Step()
            {
                using var scope = NewDisposeScope();
                ForwardProfile.BeginStep(ProfilePhase.Decode);
                using (ForwardProfile.Time(ProfileSection.Forward)) m.Forward(token, position, batch, attention, rows);
            }

            bool before = FusedOps.Enabled, beforeLayer = DecodeLayer.Enabled, profiling = ForwardProfile.Enabled;
            ForwardProfile.Enabled = true;
            var sections = Arms.Select(_ => new Dictionary<ProfileSection, double>()).ToArray();
            var wall = Arms.Select(_ => new List<double>()).ToArray();
            var cpu = Arms.Select(_ => new List<double>()).ToArray();
            int n = result.GetValue(steps);
            try
            {
                for (int r = 0; r < result.GetValue(rounds); r++)
                    foreach (int arm in r % 2 == 0 ? new[] { 0, 1, 2 } : [2, 1, 0])
                    {
                        FusedOps.Enabled = arm >= 1;
                        DecodeLayer.Enabled = arm == 2;
                        Step();
                        ForwardProfile.Reset();
                        double cpu0 = Alternation.ThreadCpuSeconds();
                        long t0 = Stopwatch.GetTimestamp();
                        for (int s = 0; s < n; s++) Step();
                        wall[arm].Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds / n);
                        cpu[arm].Add((Alternation.ThreadCpuSeconds() - cpu0) * 1000 / n);
                        var profile = ForwardProfile.Snapshot(ProfilePhase.Decode);
                        foreach (var (section, seconds) in profile.Seconds)
                            sections[arm][section] = sections[arm].GetValueOrDefault(section) + profile.PerStepMs(seconds);
                    }
            }
            finally
            {
                FusedOps.Enabled = before;
                DecodeLayer.Enabled = beforeLayer;
                ForwardProfile.Enabled = profiling;
            }

            var table = new Table().Title($"Decode step at one sequence, {m.DType}{(result.GetValue(quantization) is { } q ? " " + q : "")} (medians of {wall[0].Count} rounds of {n} steps; native threads {NativeKernels.Threads})");
            var shown = Enum.GetValues<ProfileSection>().Where(p => p != ProfileSection.Sampling).ToArray();
            foreach (var h in new[] { "path", "wall ms/step", "thread CPU ms/step" }.Concat(shown.Select(p => $"{p} ms (mean)"))) table.AddColumn(h);
            for (int arm = 0; arm < Arms.Length; arm++)
                table.AddRow([Arms[arm], $"{Alternation.Median(wall[arm]):F3}", $"{Alternation.Median(cpu[arm]):F3}",
                    .. shown.Select(p => $"{sections[arm].GetValueOrDefault(p) / wall[arm].Count:F3}")]);
            BenchConsole.Out.Write(table);
            return 0;
        });
        return command;
    }
}
