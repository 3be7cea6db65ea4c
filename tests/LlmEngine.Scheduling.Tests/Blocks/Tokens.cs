using LlmEngine.Scheduling.Blocks;

namespace LlmEngine.Scheduling.Tests.Blocks;

/// <summary>Small helpers the block tests share.</summary>
internal static class Tokens
{
    /// <summary>n token ids starting at <paramref name="first"/>: distinct inputs for distinct values.</summary>
    public static int[] Run(int n, int first = 100) => Enumerable.Range(first, n).ToArray();

    /// <summary>Maps the cached prefix and then allocates the rest of the prompt, asserting it fits,
    /// and (as a step that ran would) publishes the blocks it wrote.</summary>
    public static int Prefill(this KvCacheManager m, long seqId, IReadOnlyList<int> prompt, List<(int Src, int Dst)>? copies = null)
    {
        int computed = m.AllocatePrefix(seqId, prompt);
        Assert.True(m.TryAllocateSlots(seqId, prompt, computed, prompt.Count - computed, copies ?? []));
        m.PublishWritten();
        return computed;
    }
}
