using System.Diagnostics;
using System.Runtime.InteropServices;
using LlmEngine.Tests.Loading;

namespace LlmEngine.Tests.Cluster;

/// <summary>One <c>serve</c> on stories260K in a process group of its own (setsid), so that
/// stopping or killing it stops whatever it started too.</summary>
public sealed partial class ServeProcess : IDisposable
{
    private readonly Process _process;
    private readonly Task<string> _log;
    private readonly Task _stdout;

    private ServeProcess(Process process, Uri address) =>
        (_process, Address, _log, _stdout) = (process, address, process.StandardError.ReadToEndAsync(), process.StandardOutput.ReadToEndAsync());

    public Uri Address { get; }

    public static async Task<ServeProcess> Start(params string[] args)
    {
        var start = new ProcessStartInfo("setsid") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "dotnet", Path.Combine(AppContext.BaseDirectory, "llm-engine.dll"), "serve", "--model", SharedModels.Stories260K,
                     "--num-blocks", "128", "--port", "0" }.Concat(args))
            start.ArgumentList.Add(a);
        var process = Process.Start(start)!;
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        while (await process.StandardError.ReadLineAsync(timeout.Token) is { } line)
            if (line.StartsWith("Serving "))
                return new ServeProcess(process, new Uri(line[(line.LastIndexOf(" at ", StringComparison.Ordinal) + 4)..]));
        Signal(process, "KILL");
        throw new InvalidOperationException($"serve {string.Join(' ', args)} exited without serving");
    }

    /// <summary>SIGTERM to the whole group; the exit code once it has stopped.</summary>
    public async Task<int> Stop()
    {
        Signal(_process, "TERM");
        return (await Exit(TimeSpan.FromSeconds(60))).Code;
    }

    /// <summary>Waits for the process to exit (by itself, or after a signal): its exit code and
    /// what it wrote to standard error once serving.</summary>
    public async Task<(int Code, string Log)> Exit(TimeSpan within)
    {
        await _process.WaitForExitAsync(new CancellationTokenSource(within).Token);
        await _stdout;
        return (_process.ExitCode, await _log);
    }

    /// <summary>SIGKILL to the whole group, as a crash or the OOM killer would: nothing drains, no
    /// one is told; the process has exited when this returns.</summary>
    public async Task Kill()
    {
        Signal(_process, "KILL");
        await _process.WaitForExitAsync(new CancellationTokenSource(TimeSpan.FromSeconds(30)).Token);
    }

    // setsid runs serve as the leader of a new group: its id is the group's. The signal goes by the system
    // call, not a `kill` process: on a loaded machine starting one took long enough that a replica meant to
    // die busy had finished its queue first.
    private static void Signal(Process process, string signal)
    {
        if (SignalGroup(-process.Id, signal == "KILL" ? 9 : 15) != 0 && !process.HasExited)
            throw new InvalidOperationException($"kill -{signal} -{process.Id}: errno {Marshal.GetLastPInvokeError()}");
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int SignalGroup(int pid, int signal);

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            Signal(_process, "KILL");
            _process.WaitForExit(10_000);
        }
        _process.Dispose();
    }
}
