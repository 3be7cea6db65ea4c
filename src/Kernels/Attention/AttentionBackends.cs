using LlmEngine.Kernels.Cache;
using LlmEngine.Kernels.Native;
using TorchSharp;

namespace LlmEngine.Kernels.Attention;

/// <summary>Picks a paged attention backend by name; "native" is the default wherever its library loads.</summary>
public static class AttentionBackends
{
    public const string Native = "native";
    public const string Torch = "torch";
    public const string Auto = "auto";

    /// <summary>The backend <see cref="Create"/> picks for "auto" on <paramref name="device"/>.</summary>
    public static string DefaultName(torch.Device device) => NativeKernels.Supports(device) ? Native : Torch;

    /// <param name="name">"native", "torch", or "auto"/null for the default</param>
    public static IAttentionBackend Create(string? name, PagedKvCache cache) => (name ?? Auto).Trim().ToLowerInvariant() switch
    {
        Native => new NativePagedAttention(cache),
        Torch => new TorchPagedAttention(cache),
        Auto or "" => Create(DefaultName(cache.Device), cache),
        _ => throw new ArgumentException($"unknown attention backend '{name}' (expected {Native}, {Torch} or {Auto})", nameof(name)),
    };

    /// <summary>One line for startup: which backend "auto" uses on the device, and why.</summary>
    public static string Describe(torch.Device device) => DefaultName(device) == Native
        ? $"attention backend: {Native} ({NativeKernels.Description})"
        : $"attention backend: {Torch} ({NativeKernels.Description})";
}
