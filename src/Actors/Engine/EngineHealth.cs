namespace LlmEngine.Actors.Engine;

/// <summary>Whether the engine can still serve: once the worker is broken it stays dead, with the
/// reason that /health reports. Written by the scheduler actor, read from any thread.</summary>
internal sealed class EngineHealth
{
    private readonly CancellationTokenSource _died = new();
    private volatile string? _deadReason;

    public string? DeadReason => _deadReason;

    /// <summary>Signalled once, when the engine dies (the host stops with a non-zero exit code).</summary>
    public CancellationToken Died => _died.Token;

    public void Kill(string reason)
    {
        if (_deadReason is not null) return;
        _deadReason = reason;
        _died.Cancel();
    }
}
