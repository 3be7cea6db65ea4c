using System.Globalization;
using Akka.Hosting;
using LlmEngine.Hosting;
using LlmEngine.Tests.Loading;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;

namespace LlmEngine.Tests.EndToEnd;

/// <summary>A plain generic host (no web server) with <c>builder.AddLlmEngine()</c> on stories260K,
/// configured from an in-memory "Engine" section as an appsettings.json would be.</summary>
public static class LlmEngineHost
{
    public static IHost Build(double graceSeconds = 10, Action<AkkaConfigurationBuilder, IServiceProvider>? akka = null)
    {
        var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Engine:Model"] = SharedModels.Stories260K,
            ["Engine:NumBlocks"] = "128",
            ["Engine:BlockSize"] = "16",
            ["Engine:ShutdownGraceSeconds"] = graceSeconds.ToString(CultureInfo.InvariantCulture),
        });
        builder.AddLlmEngine(akka);
        return builder.Build();
    }
}
