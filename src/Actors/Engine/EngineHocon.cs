using Akka.Configuration;
using LlmEngine.Contracts;

namespace LlmEngine.Actors.Engine;

/// <summary>The engine's Akka settings (config/hocon/engine.hocon, embedded in this assembly):
/// the pinned dispatchers the worker and the scheduler run on, over the remote contracts'
/// serializer binding (<see cref="RemoteContracts.Config"/>).</summary>
public static class EngineHocon
{
    public static string Text { get; } = Read();

    public static Config Config => ConfigurationFactory.ParseString(Text).WithFallback(RemoteContracts.Config);

    private static string Read()
    {
        using var stream = typeof(EngineHocon).Assembly.GetManifestResourceStream("engine.hocon")
            ?? throw new InvalidOperationException("engine.hocon is not embedded in the Actors assembly");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
