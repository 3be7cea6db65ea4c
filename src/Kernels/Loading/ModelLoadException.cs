namespace LlmEngine.Kernels.Loading;

/// <summary>A problem a user meets when pointing the engine at model files; the message is one
/// line naming the file and what is wrong.</summary>
public sealed class ModelLoadException(string message, Exception? inner = null) : Exception(message, inner);
