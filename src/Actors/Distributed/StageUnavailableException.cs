namespace LlmEngine.Actors.Distributed;

/// <summary>A pipeline stage has no worker node (not joined yet, or lost): the step cannot run,
/// and the engine refuses new requests until a worker takes the stage again.</summary>
internal sealed class StageUnavailableException(string message) : Exception(message);
