using System.Runtime.CompilerServices;
using System.Text;

namespace LlmEngine.Kernels.Tokenizers;

/// <summary>How much text one token can stand for, so a text's size bounds its token count before
/// any tokenizing: a text of more than <c>n * MaxCharsPerToken</c> characters has more than n tokens.</summary>
public static class TokenizerBounds
{
    private static readonly ConditionalWeakTable<ITokenizer, StrongBox<int>> Cache = new();

    /// <summary>Twice the longest token, in UTF-8 bytes (each character is at least one byte); special
    /// tokens count as their literal text. The factor 2 leaves room for normalizers that compose
    /// characters (a letter and its combining mark become one). Computed once per tokenizer.</summary>
    public static int MaxCharsPerToken(ITokenizer tokenizer) =>
        Cache.GetValue(tokenizer, t => new StrongBox<int>(2 * Math.Max(1, LongestToken(t)))).Value;

    private static int LongestToken(ITokenizer tokenizer)
    {
        int longest = 0;
        for (int id = 0; id < tokenizer.VocabSize; id++)
        {
            int length = tokenizer.IsSpecial(id)
                ? Encoding.UTF8.GetByteCount(tokenizer.Decode([id], skipSpecialTokens: false))
                : tokenizer.TokenBytes(id).Length;
            longest = Math.Max(longest, length);
        }
        return longest;
    }
}
