namespace LlmEngine.Scheduling.Blocks;

/// <summary>
/// Which leading blocks a sequence no longer needs when every layer of the model attends only to
/// its last W positions (query p sees keys p - W &lt; j &lt;= p; vLLM's sliding-window KV manager).
/// The next token computed is at position numComputed, so keys before numComputed - W + 1 are never
/// read again, nor are the blocks that hold only such keys. When only some layers are windowed
/// the model has no such bound (a global layer reads every key) and nothing is freed.
/// <code>
///   W = 6, B = 4, numComputed = 13: first key needed = 8
///   [b0: 0..3][b1: 4..7][b2: 8..11][b3: 12 . . .]   b0, b1 slid out: 2 blocks behind
/// </code>
/// </summary>
public static class SlidingWindow
{
    /// <summary>Leading blocks entirely before the window of the token at <paramref name="numComputed"/>;
    /// 0 when <paramref name="window"/> is 0 (no window on some layer).</summary>
    public static int BlocksBehind(int window, int blockSize, int numComputed) =>
        window <= 0 ? 0 : Math.Max(0, numComputed - window + 1) / blockSize;
}
