using System.Text.Json;

namespace LlmEngine.Tests.Cli;

/// <summary>The llm-engine host's runtime settings that its speed depends on.</summary>
public class RuntimeConfigTests
{
    [Fact]
    public void TheHostCompilesItsCodeOptimisedFromTheFirstCall()
    {
        // Quick JIT left a decode step's C# unoptimised for the first seconds of every run.
        using var config = JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "llm-engine.runtimeconfig.json")));
        var properties = config.RootElement.GetProperty("runtimeOptions").GetProperty("configProperties");
        Assert.False(properties.GetProperty("System.Runtime.TieredCompilation.QuickJit").GetBoolean());
    }
}
