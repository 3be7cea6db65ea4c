namespace LlmEngine.Actors.Engine;

/// <summary>Why a request ended before its finish: the labels of the abort counter.</summary>
public static class AbortReasons
{
    /// <summary>Its caller stopped reading (a client that disconnected, a cancelled token).</summary>
    public const string Client = "client";
    /// <summary>The server shut down before it finished within the grace period.</summary>
    public const string Shutdown = "shutdown";
    /// <summary>Its own step failed (its logits or its sampling).</summary>
    public const string Error = "error";
    /// <summary>The worker broke; every request failed.</summary>
    public const string EngineDead = "engine_dead";

    /// <summary>Its own deadline (<see cref="GenerationRequest.Timeout"/>) passed before it finished.</summary>
    public const string Deadline = "deadline";

    public static IReadOnlyList<string> All { get; } = [Client, Shutdown, Error, EngineDead, Deadline];
}
