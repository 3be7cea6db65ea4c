using LlmEngine.Kernels.Tokenizers;

namespace LlmEngine.Kernels.Structured;

/// <summary>
/// A tokenizer's tokens as the bytes each adds to the text, sorted, with the length of the
/// prefix each shares with the one before it: walking them in this order is a depth-first walk
/// of the token trie, so the automaton advances once per trie edge, not once per token byte.
/// Built once per tokenizer; special tokens (BOS, EOS, ...) have no bytes and are never text.
/// </summary>
public sealed class TokenVocabulary
{
    private TokenVocabulary(byte[][] bytes, int[] endTokens)
    {
        Bytes = bytes;
        EndTokens = endTokens;
        Sorted = Enumerable.Range(0, bytes.Length).Where(i => bytes[i].Length > 0).ToArray();
        Array.Sort(Sorted, (x, y) => bytes[x].AsSpan().SequenceCompareTo(bytes[y]));
        SharedPrefix = new int[Sorted.Length];
        for (int i = 1; i < Sorted.Length; i++)
            SharedPrefix[i] = bytes[Sorted[i]].AsSpan().CommonPrefixLength(bytes[Sorted[i - 1]]);
        MaxTokenBytes = bytes.Length == 0 ? 0 : bytes.Max(b => b.Length);
    }

    /// <summary>Ids 0 .. <paramref name="size"/> - 1 (the model's logit count, which may exceed
    /// the tokenizer's); <paramref name="endTokens"/> end a generation.</summary>
    public static TokenVocabulary From(ITokenizer tokenizer, int size, IEnumerable<int> endTokens)
    {
        var bytes = new byte[Math.Max(size, tokenizer.VocabSize)][];
        for (int i = 0; i < bytes.Length; i++)
            bytes[i] = i < tokenizer.VocabSize && !tokenizer.IsSpecial(i) ? tokenizer.TokenBytes(i) : [];
        return new TokenVocabulary(bytes, endTokens.Where(t => t >= 0 && t < bytes.Length).Distinct().ToArray());
    }

    /// <summary>For tests: the given byte strings as tokens 0 .. n - 1.</summary>
    public static TokenVocabulary Of(IReadOnlyList<byte[]> tokens, params int[] endTokens) => new(tokens.ToArray(), endTokens);

    public int Size => Bytes.Length;
    public byte[][] Bytes { get; }
    public int[] EndTokens { get; }
    internal int[] Sorted { get; }
    internal int[] SharedPrefix { get; }
    internal int MaxTokenBytes { get; }
    public int MaskWords => (Size + 63) / 64;
}
