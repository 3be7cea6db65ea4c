using System.CommandLine;
using LlmEngine.Host.Cli;
using LlmEngine.Kernels.Loading;

var root = new RootCommand("llm-engine: a paged-attention LLM serving engine on Akka.NET and TorchSharp");
root.Subcommands.Add(GenerateCommand.Create());
root.Subcommands.Add(ServeCommand.Create());
root.Subcommands.Add(LlmEngine.Host.Bench.BenchCommand.Create());
try
{
    return await root.Parse(args).InvokeAsync();
}
catch (Exception e) when (e is ModelLoadException or ArgumentException or FileNotFoundException or DirectoryNotFoundException)
{
    return CliErrors.Fail(e.Message);
}
