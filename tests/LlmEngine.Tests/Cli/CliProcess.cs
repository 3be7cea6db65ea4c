using System.Diagnostics;

namespace LlmEngine.Tests.Cli;

/// <summary>Runs a program as a child process to its end (killed, with its children, if it outlives
/// the timeout): the real command-line program built beside the tests, or any other.</summary>
internal static class CliProcess
{
    public sealed record Result(int ExitCode, string Output, string Error);

    public static Task<Result> Run(params string[] args) => Dotnet(Path.Combine(AppContext.BaseDirectory, "llm-engine.dll"), args);

    /// <summary><c>dotnet DLL ARGS...</c>.</summary>
    public static Task<Result> Dotnet(string dll, params string[] args) => Run(Start("dotnet", [dll, .. args]), TimeSpan.FromMinutes(3));

    public static ProcessStartInfo Start(string program, IEnumerable<string> args, string? directory = null)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true };
        if (directory is not null) start.WorkingDirectory = directory;
        foreach (var a in args) start.ArgumentList.Add(a);
        return start;
    }

    public static async Task<Result> Run(ProcessStartInfo start, TimeSpan timeout)
    {
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var cancel = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cancel.Token);
        }
        finally
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
        }
        return new Result(process.ExitCode, await output, await error);
    }
}
