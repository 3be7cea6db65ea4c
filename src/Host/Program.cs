using System.CommandLine;
using LlmEngine.Host.Cli;
using LlmEngine.Kernels.Loading;

var root = new RootCommand("llm-engine: a paged-attention LLM serving engine on Akka.NET and TorchSharp");
root.Subcommands.Add(GenerateCommand.Create());
root.Subcommands.Add(ServeCommand.Create());
try
{
    // Our own handler below turns the errors a user can fix into one line; anything else is a bug
    // and keeps its stack trace.
    return await root.Parse(args).InvokeAsync(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
}
catch (Exception e) when (e is ModelLoadException or ArgumentException or FileNotFoundException or DirectoryNotFoundException or IOException)
{
    return CliErrors.Fail(e.Message);
}
