using Akka.Actor;
using Akka.Event;

namespace LlmEngine.Actors.Engine;

/// <summary>Akka's log on standard error: standard output belongs to the commands' results
/// (generate writes JSON lines there).</summary>
internal sealed class StandardErrorLogger : ReceiveActor
{
    public StandardErrorLogger()
    {
        Receive<LogEvent>(e => Console.Error.WriteLine($"[{e.LogLevel().ToString().Replace("Level", "").ToUpperInvariant()}] {e.LogSource}: {e.Message}{(e.Cause is null ? "" : " " + e.Cause.Message)}"));
        Receive<InitializeLogger>(_ => Sender.Tell(new LoggerInitialized()));
    }
}
