using System.CommandLine;

namespace LlmEngine.Host.Bench;

/// <summary><c>bench</c>: throughput (offline), batch (llama.cpp's batched-bench), serve (online,
/// over HTTP), sweep (serve over rates and engine configurations), kernel, moe (a mixture-of-experts layer), fused and linear (decode-step parts, two paths alternating), guided (a JSON Schema
/// constraint's cost per step), soak (sustained overload) and fuzz (hostile requests).</summary>
internal static class BenchCommand
{
    public static Command Create()
    {
        var command = new Command("bench", "Benchmarks: offline throughput, batched prompt/generation speed, online serving, rate sweeps, soak and fuzz runs");
        command.Subcommands.Add(ThroughputCommand.Create());
        command.Subcommands.Add(BatchCommand.Create());
        command.Subcommands.Add(ServeBenchCommand.Create());
        command.Subcommands.Add(SweepCommand.Create());
        command.Subcommands.Add(KernelCommand.Create());
        command.Subcommands.Add(MoeCommand.Create());
        command.Subcommands.Add(FusedCommand.Create());
        command.Subcommands.Add(LinearCommand.Create());
        command.Subcommands.Add(GuidedCommand.Create());
        command.Subcommands.Add(PlotTraceCommand.Create());
        command.Subcommands.Add(DashboardCostCommand.Create());
        command.Subcommands.Add(SoakCommand.Create());
        command.Subcommands.Add(FuzzCommand.Create());
        return command;
    }
}
