using LlmEngine.Kernels.Attention;
using LlmEngine.Kernels.Cache;

namespace LlmEngine.Actors.Engine;

/// <summary>Picks the attention backend named by --attention-backend (native, torch).</summary>
public static class AttentionBackendChoice
{
    public static IAttentionBackend Create(string? name, PagedKvCache cache) => name switch
    {
        null or "torch" => new TorchPagedAttention(cache),
        _ => throw new ArgumentException($"--attention-backend '{name}' is not supported (supported: torch)"),
    };
}
