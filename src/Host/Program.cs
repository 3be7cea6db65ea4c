using System.CommandLine;
using LlmEngine.Actors.Engine;
using LlmEngine.Host.Cli;
using LlmEngine.Kernels.Loading;

var root = new RootCommand("llm-engine: a paged-attention LLM serving engine on Akka.NET and TorchSharp");
root.Subcommands.Add(GenerateCommand.Create());
root.Subcommands.Add(ServeCommand.Create());
root.Subcommands.Add(WorkerCommand.Create());
root.Subcommands.Add(LlmEngine.Host.Bench.BenchCommand.Create());
try
{
    // Our own handler below turns the errors a user can fix into one line; anything else is a bug
    // and keeps its stack trace.
    var parsed = root.Parse(args);
    if (parsed.Errors.Count > 0 && args.Length > 0 && args[0] is not ("-h" or "--help"))
        return CliErrors.Fail(string.Join("; ", parsed.Errors.Select(e => e.Message)) + " (see --help)", CliErrors.Usage);
    // No process-termination timeout: System.CommandLine's default gives a command 2 s after SIGTERM
    // and then ends the process under the engine's native threads; serve's host drains instead
    // (its own SIGTERM handling, the shutdown grace period) and then returns.
    return await parsed.InvokeAsync(new InvocationConfiguration { EnableDefaultExceptionHandler = false, ProcessTerminationTimeout = null });
}
catch (EngineOptionsException e)
{
    return CliErrors.Fail(e.Message, CliErrors.Usage);
}
catch (Exception e) when (e is ModelLoadException or ArgumentException or FileNotFoundException or DirectoryNotFoundException or IOException or TimeoutException)
{
    return CliErrors.Fail(e.Message);
}
