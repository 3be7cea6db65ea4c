using LlmEngine.Kernels.Native;
using System.CommandLine;
using LlmEngine.Kernels.Attention;
using LlmEngine.Kernels.Cache;
using Spectre.Console;

namespace LlmEngine.Host.Bench;

/// <summary>
/// <c>bench kernel</c>: decode paged attention of the native kernel, per cache dtype, batch and
/// context: time per call, K/V bytes read per second as a share of the memory bandwidth measured
/// beside each case, and the speed-up over the TorchSharp composition.
/// </summary>
internal static class KernelCommand
{
    public static Command Create()
    {
        var batches = new Option<string>("--batch-sizes") { DefaultValueFactory = _ => "1,16,64" };
        var contexts = new Option<string>("--context-lengths") { DefaultValueFactory = _ => "512,2048" };
        var dtypes = new Option<string>("--kv-cache-dtypes")
        {
            Description = "cache dtypes (float32, bfloat16, float16; a float16 cache is read under float32 queries)",
            DefaultValueFactory = _ => "float32,bfloat16,float16",
        };
        var cold = new Option<bool>("--cold")
        {
            Description = "read 256 MB of other memory before each timed call, so the call reads its keys and values from memory " +
                          "as a decode step does after its weight pass (without it a small case runs from the caches)",
        };
        var output = new Option<FileInfo?>("--output-json");
        var command = new Command("kernel", "Benchmark the native paged-attention kernel against memory bandwidth and the TorchSharp path");
        foreach (var o in new Option[] { batches, contexts, dtypes, cold, output }) command.Options.Add(o);
        command.SetAction(async (result, cancel) =>
        {
            NativeKernels.EnsureAvailable();
            var options = new KernelBenchmarkOptions
            {
                BatchSizes = Ints(result.GetValue(batches)!),
                ContextLengths = Ints(result.GetValue(contexts)!),
                DTypes = result.GetValue(dtypes)!.Split(',', StringSplitOptions.RemoveEmptyEntries)
                    .Select(name => KvCacheDTypes.Of(name, TorchSharp.torch.ScalarType.Float32, quantizedWeights: false)).ToArray(),
                Cold = result.GetValue(cold),
            };
            var report = KernelBenchmark.RunDecode(options, row => Console.Error.WriteLine(
                $"{row.DType} batch {row.Batch} context {row.Context}: {row.Milliseconds:F3} ms"));
            var table = new Table().Title($"Decode paged attention ({report.Isa}, {report.Threads} threads{(options.Cold ? ", cold" : "")}; copy {report.CopyBytesPerSecond / 1e9:F1} GB/s, read {report.ReadBytesPerSecond / 1e9:F1} GB/s)");
            foreach (var c in new[] { "dtype", "batch", "context", "ms/call", "K/V GB/s", "of copy bw", "of read bw", "torch ms", "speed-up" }) table.AddColumn(c);
            foreach (var r in report.Rows)
                table.AddRow(r.DType, r.Batch.ToString(), r.Context.ToString(), $"{r.Milliseconds:F3}", $"{r.KvBytesPerSecond / 1e9:F1}",
                    $"{r.BandwidthShare:P0}", $"{r.ReadShare:P0}", r.TorchMilliseconds is { } t ? $"{t:F2}" : "-", r.SpeedUp is { } s ? $"{s:F1}x" : "-");
            BenchConsole.Out.Write(table);
            await BenchConsole.WriteJsonAsync(result.GetValue(output), report);
            return 0;
        });
        return command;
    }

    private static int[] Ints(string list) => list.Split(',', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse).ToArray();
}
