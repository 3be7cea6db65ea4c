namespace LlmEngine.Scheduling.Blocks;

/// <summary>Block arithmetic a scheduler needs before it asks the manager for anything.</summary>
public static class BlockBudget
{
    /// <summary>Blocks that hold <paramref name="tokens"/> tokens: ceil(tokens / B).</summary>
    public static int BlocksFor(int tokens, int blockSize) => (tokens + blockSize - 1) / blockSize;

    /// <summary>
    /// New blocks a table covering <paramref name="tokensInTable"/> slots needs to cover
    /// <paramref name="tokensAfter"/>; copy-on-write of a shared last block is not counted.
    /// </summary>
    public static int BlocksNeeded(int tokensInTable, int tokensAfter, int blockSize) =>
        Math.Max(0, BlocksFor(tokensAfter, blockSize) - BlocksFor(tokensInTable, blockSize));
}
