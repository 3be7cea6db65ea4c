namespace LlmEngine.Actors.Engine;

/// <summary>The waiting queue is full (<see cref="EngineOptions.MaxWaitingRequests"/>): the request was
/// not queued and may be retried later (HTTP 503 with Retry-After).</summary>
public sealed class EngineOverloadedException(string message, TimeSpan retryAfter) : Exception(message)
{
    public TimeSpan RetryAfter { get; } = retryAfter;
}

/// <summary>The worker is broken (a native fault, out of memory): every request fails and the engine
/// takes no more (vLLM's EngineDeadError). The process should exit so a supervisor restarts it.</summary>
public sealed class EngineDeadException(string reason) : Exception($"the engine is dead: {reason}")
{
    public string Reason { get; } = reason;
}

/// <summary>A request's own step failed (its logits or its sampling); the requests batched with it
/// went on. The message names no internals; the cause is logged.</summary>
public sealed class RequestFailedException(string message) : Exception(message);

/// <summary>The engine is shutting down and admits no request (HTTP 503); an <see cref="InvalidOperationException"/>
/// as it always was, typed so that every door can tell it from a bug.</summary>
public sealed class EngineStoppingException() : InvalidOperationException("the engine is shutting down");

/// <summary>A part of the model is missing (a pipeline stage without its worker node): the engine
/// admits no request until it is back (HTTP 503 naming it), then serves again.</summary>
public sealed class EngineUnavailableException(string reason) : Exception($"the engine cannot serve now: {reason}")
{
    public string Reason { get; } = reason;
}
