using System.Diagnostics;

namespace LlmEngine.Actors.Engine;

/// <summary>When the engine accepted a request: wall-clock time for its timings, and the
/// <see cref="Stopwatch"/> timestamp every engine event is stamped with.</summary>
public readonly record struct RequestAcceptance(DateTime Utc, long Timestamp)
{
    public static RequestAcceptance Now() => new(DateTime.UtcNow, Stopwatch.GetTimestamp());
}
