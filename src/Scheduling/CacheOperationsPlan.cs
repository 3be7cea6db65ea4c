namespace LlmEngine.Scheduling;

/// <summary>Block moves the scheduler decides for one step, which the worker's cache applies in this
/// order before the forward pass: swap out (device to host), swap in (host to device),
/// copy-on-write copies.</summary>
public sealed record CacheOperationsPlan(
    IReadOnlyList<(int Device, int Host)> SwapOut,
    IReadOnlyList<(int Host, int Device)> SwapIn,
    IReadOnlyList<(int Src, int Dst)> Copies)
{
    public static readonly CacheOperationsPlan None = new([], [], []);
    public bool IsEmpty => SwapOut.Count == 0 && SwapIn.Count == 0 && Copies.Count == 0;
}
