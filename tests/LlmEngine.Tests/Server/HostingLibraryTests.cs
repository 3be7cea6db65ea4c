using System.Text.Json;
using LlmEngine.Hosting;
using LlmEngine.Tests.Chat;

namespace LlmEngine.Tests.Server;

/// <summary><c>LlmEngine.Hosting</c> is the engine on any generic host: an application that hosts
/// it (a worker service, another web app) takes in the engine and Akka.Hosting, not the command
/// line's or the OpenAI server's dependencies.</summary>
public sealed class HostingLibraryTests
{
    private static readonly string[] CommandLineOnly =
        ["Microsoft.AspNetCore", "System.CommandLine", "Spectre.Console", "ScottPlot", "prometheus-net", "OpenTelemetry.Instrumentation.AspNetCore", "llm-engine"];

    [Fact]
    public void ItsDependencyGraphHoldsNoneOfTheCommandLinesPackages()
    {
        using var deps = JsonDocument.Parse(File.ReadAllText(TestFiles.BuildOutput("src/Hosting", "LlmEngine.Hosting.deps.json")));
        var libraries = deps.RootElement.GetProperty("libraries").EnumerateObject().Select(l => l.Name.Split('/')[0]).ToList();

        Assert.Contains("Akka.Hosting", libraries);
        Assert.DoesNotContain(libraries, l => CommandLineOnly.Any(c => l.StartsWith(c, StringComparison.OrdinalIgnoreCase)));
    }

    [Fact]
    public void ItReferencesNoAssemblyOfTheWebServerOrTheExecutable()
    {
        var references = typeof(LlmEngineServiceCollectionExtensions).Assembly.GetReferencedAssemblies().Select(a => a.Name!).ToList();

        Assert.Contains("LlmEngine.Actors", references);
        Assert.DoesNotContain(references, r => CommandLineOnly.Any(c => r.StartsWith(c, StringComparison.OrdinalIgnoreCase)));
    }
}
