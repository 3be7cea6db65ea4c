using System.Runtime.InteropServices;

namespace LlmEngine.Actors.Engine;

/// <summary>
/// Which failures of a step leave the worker itself broken (vLLM's EngineDeadError) rather than
/// failing only the requests in that step: the process ran out of memory, or native code faulted.
/// After such a failure the model's memory and the KV cache cannot be trusted, so the engine stops
/// and the process should be restarted.
/// </summary>
internal static class WorkerFaults
{
    public static bool IsFatal(Exception error) => error switch
    {
        OutOfMemoryException or InsufficientExecutionStackException or AccessViolationException or SEHException => true,
        // libtorch reports device memory exhaustion as an error message ("CUDA out of memory").
        _ when error.Message.Contains("out of memory", StringComparison.OrdinalIgnoreCase) => true,
        _ => error.InnerException is { } inner && IsFatal(inner),
    };
}
